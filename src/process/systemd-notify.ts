// State changes for systemd Type=notify: Node cannot open the Unix datagram socket itself, so systemd-notify does.
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';

/**
 * NOTIFY_SOCKET, removed from the environment: workers and the app are not the unit's main process,
 * and a message from one of them would confuse systemd.
 */
export function takeNotifySocket(): string | undefined {
  const socket = process.env.NOTIFY_SOCKET;
  delete process.env.NOTIFY_SOCKET;
  return socket;
}

/**
 * Tells systemd, when started by a Type=notify unit (NOTIFY_SOCKET set), what the daemon is doing.
 * Each message is a systemd-notify child; --pid names this process as the main one and, as root,
 * as the sender too. Without root the message comes from the child, hence NotifyAccess=all.
 * Messages go one after the other: READY=1 overtaking RELOADING=1 would leave a unit reloading.
 */
export class SystemdNotifier {
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly log: Logger,
    /** From {@link takeNotifySocket}; undefined: not started by a Type=notify unit, nothing is sent. */
    private readonly socket: string | undefined,
  ) {}

  /** Serving: start-up is over, or a reload finished. */
  ready(status: string): void {
    this.send(['READY=1', `STATUS=${status}`]);
  }

  /** SIGHUP: new workers are starting; READY=1 follows once they serve. */
  reloading(): void {
    // systemd wants the reload's start on CLOCK_MONOTONIC, which hrtime reads on Linux.
    const monotonicUsec = process.hrtime.bigint() / 1000n;
    this.send(['RELOADING=1', `MONOTONIC_USEC=${monotonicUsec}`, 'STATUS=reloading']);
  }

  /** Draining before exit. */
  stopping(): void {
    this.send(['STOPPING=1', 'STATUS=stopping']);
  }

  private send(assignments: string[]): void {
    if (this.socket === undefined) return;
    const args = [`--pid=${process.pid}`, ...assignments];
    this.queue = this.queue.then(
      () =>
        new Promise<void>((resolve) => {
          execFile(
            'systemd-notify',
            args,
            { env: { ...process.env, NOTIFY_SOCKET: this.socket } },
            (error) => {
              if (error) {
                this.log.warn(
                  { err: error, code: 'ERR_SYSTEMD_NOTIFY', notification: assignments[0] },
                  'systemd-notify failed: the unit needs NotifyAccess=all, and systemd-notify on the PATH',
                );
              }
              resolve();
            },
          );
        }),
    );
  }
}
