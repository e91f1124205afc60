// Readiness for systemd Type=notify: Node cannot open the Unix datagram socket itself, so systemd-notify does.
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';

/**
 * Tells systemd the daemon is ready, when started by a Type=notify unit. The message comes from the
 * systemd-notify child, so the unit needs NotifyAccess=all; --pid names this process as the main one.
 */
export function notifyReady(log: Logger): void {
  if (process.env.NOTIFY_SOCKET === undefined) return;
  execFile('systemd-notify', ['--ready', `--pid=${process.pid}`], (error) => {
    if (error) log.warn({ err: error }, 'systemd-notify --ready failed (Type=notify needs NotifyAccess=all)');
  });
}
