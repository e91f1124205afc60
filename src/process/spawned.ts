// Started by a web server (FastCGI spec §2.2): a listening socket on fd 0, FCGI_LISTENSOCK_FILENO, told from /proc.
import { readFileSync, readlinkSync } from 'node:fs';
import type { ListenerSpec } from './daemon';

/** FastCGI spec §2.2: the descriptor on which a spawned application finds its listening socket. */
export const FCGI_LISTENSOCK_FILENO = 0;

/** __SO_ACCEPTCON in /proc/net/unix's Flags: the socket listens (net/unix/af_unix.c). */
const SO_ACCEPTCON = 0x10000;
/** SOCK_STREAM in /proc/net/unix's Type. */
const UNIX_STREAM = 1;
/** TCP_LISTEN in /proc/net/tcp's st column (include/net/tcp_states.h). */
const TCP_LISTEN = '0A';

/** Reads a /proc file or link; null where it cannot (not Linux, no such descriptor). */
export interface ProcFiles {
  readlink(path: string): string | null;
  read(path: string): string | null;
}

const PROC: ProcFiles = {
  readlink: (path) => attempt(() => readlinkSync(path)),
  read: (path) => attempt(() => readFileSync(path, 'latin1')),
};

function attempt(read: () => string): string | null {
  try {
    return read();
  } catch {
    return null;
  }
}

/** The inode of the socket a /proc/<pid>/fd link names (`socket:[12345]`); null for a pipe, file or terminal. */
export function socketInode(link: string | null): string | null {
  const match = link === null ? null : /^socket:\[(\d+)\]$/.exec(link);
  return match === null ? null : match[1];
}

/**
 * Whether /proc/net/unix lists the socket with that inode as a listening stream socket: true,
 * false (a connected or datagram socket), or null when the table does not list it.
 * Columns: Num RefCount Protocol Flags Type St Inode [Path].
 */
export function unixSocketListens(table: string, inode: string): boolean | null {
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 7 || fields[6] !== inode) continue;
    return (parseInt(fields[3], 16) & SO_ACCEPTCON) !== 0 && parseInt(fields[4], 16) === UNIX_STREAM;
  }
  return null;
}

/**
 * Whether /proc/net/tcp or tcp6 lists the socket with that inode in state LISTEN: true, false, or
 * null when not listed. Columns: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode.
 */
export function tcpSocketListens(table: string, inode: string): boolean | null {
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || fields[9] !== inode) continue;
    return fields[3] === TCP_LISTEN;
  }
  return null;
}

/**
 * Whether `fd` is a listening socket, Unix or TCP. Node has no getsockopt(SO_ACCEPTCONN), and
 * reading the descriptor to find out would take a request's bytes from a pipe: the kernel's tables
 * under /proc say it instead. A pipe, a file, a terminal or a connected socket (a child started
 * with stdio pipes has one) is not; nor is anything where /proc cannot be read.
 */
export function isListeningSocket(fd: number, proc: ProcFiles = PROC): boolean {
  const inode = socketInode(proc.readlink(`/proc/self/fd/${fd}`));
  if (inode === null) return false;
  const unix = proc.read('/proc/net/unix');
  const listens = unix === null ? null : unixSocketListens(unix, inode);
  if (listens !== null) return listens;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const table = proc.read(file);
    const tcp = table === null ? null : tcpSocketListens(table, inode);
    if (tcp !== null) return tcp;
  }
  return false;
}

/**
 * The FastCGI listener of a process a web server spawned (spawn-fcgi, cgi-fcgi -start, lighttpd's
 * bin-path, mod_fcgid, h2o's fastcgi.spawn): its listening socket on fd 0; null when fd 0 is not one.
 */
export function spawnedListener(proc: ProcFiles = PROC): ListenerSpec | null {
  if (!isListeningSocket(FCGI_LISTENSOCK_FILENO, proc)) return null;
  return {
    protocol: 'fastcgi',
    address: { kind: 'fd', fd: FCGI_LISTENSOCK_FILENO, name: 'FCGI_LISTENSOCK_FILENO' },
  };
}
