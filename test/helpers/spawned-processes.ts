// The sluice processes a spawner (a web server, spawn-fcgi) started, found in /proc (Linux): they are
// no children of the test, so no exit event tells when they come and go.
import * as fs from 'node:fs';
import { pidAlive } from './frontends';

export interface SpawnedProcess {
  pid: number;
  ppid: number;
  /** Real user id: the user the spawner ran it as. */
  uid: number;
}

/** A user's id, from /etc/passwd. */
export function uidOf(user: string): number {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${user}:`));
  if (line === undefined) throw new Error(`no user ${user} in /etc/passwd`);
  return Number(line.split(':')[2]);
}

/** The pids of a process's children. */
export function childrenOf(pid: number): number[] {
  const text = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text === '' ? [] : text.split(/\s+/).map(Number);
}

/**
 * Live processes running `sluice serve` from `marker` (a staging dir of one test): `bin/sluice` and
 * `serve` as arguments of their own, so that a spawner's helper holding the whole command in one
 * argument (h2o's `kill-on-close … /bin/sh -c "exec …"`) does not count.
 */
export function sluiceProcesses(marker: string): SpawnedProcess[] {
  const found: SpawnedProcess[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    let argv: string[];
    let stat: string;
    let status: string;
    try {
      argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const at = argv.findIndex((arg) => arg.startsWith(marker) && arg.endsWith('/bin/sluice'));
    if (at === -1 || argv[at + 1] !== 'serve' || !pidAlive(pid)) continue;
    found.push({
      pid,
      ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]),
      uid: Number(/^Uid:\s+(\d+)/m.exec(status)![1]),
    });
  }
  return found;
}

/** SIGKILLs what a failed test left behind (the spawner is gone or did not stop them). */
export function killLeftovers(marker: string): void {
  for (const { pid } of sluiceProcesses(marker)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}
