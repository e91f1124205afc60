// User and group names to numeric ids, through the system's name service (getent), for chown and setuid.
import { execFileSync } from 'node:child_process';
import { UsageError } from '../errors';

function lookUp(database: 'passwd' | 'group', name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  let line: string;
  try {
    line = execFileSync('getent', [database, name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    throw new UsageError('ERR_USAGE_USER', `no such ${database === 'passwd' ? 'user' : 'group'}: ${name}`);
  }
  return Number(line.split(':')[2]);
}

export function userId(name: string): number {
  return lookUp('passwd', name);
}

export function groupId(name: string): number {
  return lookUp('group', name);
}

/** Gives up root for `user`/`group` once the sockets are bound: groups first, while still allowed. */
export function dropPrivileges(user: string | undefined, group: string | undefined): void {
  if (user === undefined && group === undefined) return;
  const uid = user === undefined ? undefined : userId(user);
  // Without --group, the user's own primary group, as a login would set it.
  const gid = group !== undefined ? groupId(group) : primaryGroupOf(uid!);
  if (user !== undefined)
    (process as NodeJS.Process & { initgroups(user: string, group: number): void }).initgroups(user, gid);
  else process.setgroups!([gid]);
  process.setgid!(gid);
  if (uid !== undefined) process.setuid!(uid);
}

function primaryGroupOf(uid: number): number {
  const line = execFileSync('getent', ['passwd', String(uid)], { encoding: 'utf8' });
  return Number(line.split(':')[3]);
}
