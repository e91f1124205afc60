// systemd socket activation: listening sockets inherited as fd 3, 4, … with LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES.
import type { ListenerProtocol, ListenerSpec } from './daemon';
import { UsageError } from '../errors';

/** sd_listen_fds(3): the first inherited descriptor. */
export const SD_LISTEN_FDS_START = 3;

const PROTOCOLS: readonly ListenerProtocol[] = ['fastcgi', 'scgi', 'http'];

/**
 * The listeners systemd passed to this process, each named (FileDescriptorName=, or
 * systemd-socket-activate --fdname=) for the protocol it speaks: `fastcgi`, `scgi`, `http`, or one
 * of these followed by `-`, `.` or `_` and anything. The variables are removed, as sd_listen_fds(3)
 * does, so that processes started later do not take the descriptors for theirs.
 */
export function inheritedListeners(env: NodeJS.ProcessEnv = process.env, pid = process.pid): ListenerSpec[] {
  const listenPid = env.LISTEN_PID;
  const count = env.LISTEN_FDS;
  const names = env.LISTEN_FDNAMES;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (listenPid === undefined || count === undefined || Number(listenPid) !== pid) return [];
  if (!/^\d+$/.test(count))
    throw new UsageError('ERR_USAGE_LISTEN_FDS', `LISTEN_FDS is not a number: ${count}`);
  const nameList = (names ?? '').split(':');
  const specs: ListenerSpec[] = [];
  for (let i = 0; i < Number(count); i++) {
    const fd = SD_LISTEN_FDS_START + i;
    const name = nameList[i] ?? '';
    const protocol = PROTOCOLS.find((p) => name === p || new RegExp(`^${p}[-._]`).test(name));
    if (protocol === undefined) {
      throw new UsageError(
        'ERR_USAGE_LISTEN_FDS',
        `inherited socket fd ${fd} is named ${JSON.stringify(name)}: name it fastcgi, scgi or http ` +
          '(FileDescriptorName= in the .socket unit) so sluice knows which protocol it speaks',
      );
    }
    specs.push({ protocol, address: { kind: 'fd', fd, name } });
  }
  return specs;
}
