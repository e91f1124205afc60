// sluice started as systemd starts a socket-activated service: by systemd-socket-activate, with the
// listening sockets as fd 3, 4, … and LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES.
import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT, SLUICE_BIN } from './daemon';

export interface Activated {
  child: ChildProcess;
  /** Everything systemd-socket-activate and sluice wrote so far. */
  logs(): string;
}

/** `activatorArgs` are systemd-socket-activate's (`-l`, `--fdname=`); `openFiles` lowers `ulimit -n`. */
export function activate(activatorArgs: string[], sluiceArgs: string[], openFiles?: number): Activated {
  const command = [
    'systemd-socket-activate',
    ...activatorArgs,
    process.execPath,
    SLUICE_BIN,
    'serve',
    'test/fixtures/apps/probe.mjs',
    ...sluiceArgs,
  ];
  if (openFiles !== undefined) command.unshift('bash', '-c', `ulimit -n ${openFiles} && exec "$@"`, 'bash');
  const child = spawn(command[0], command.slice(1), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stdout!.on('data', (d) => (logs += d));
  child.stderr!.on('data', (d) => (logs += d));
  return { child, logs: () => logs };
}

/** SIGTERM; resolves with the exit code. */
export async function stopActivated(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}
