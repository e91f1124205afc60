// Telling a spawning web server's listening socket on fd 0 from anything else, from /proc text.
import {
  isListeningSocket,
  socketInode,
  spawnedListener,
  tcpSocketListens,
  unixSocketListens,
  type ProcFiles,
} from '../../src/process/spawned';

// /proc/net/unix as Linux 6.1 prints it. Flags 00010000 is __SO_ACCEPTCON; Type 0001 SOCK_STREAM,
// 0002 SOCK_DGRAM; St 01 unconnected, 03 connected.
const NET_UNIX = `Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 1001 /tmp/spawned.sock
0000000000000000: 00000003 00000000 00000000 0001 03 1002
0000000000000000: 00000003 00000000 00000000 0001 03 1003 /run/systemd/journal/stdout
0000000000000000: 00000002 00000000 00000000 0002 01 1004 /run/systemd/notify
0000000000000000: 00000002 00000000 00010000 0005 01 1005 /tmp/seqpacket.sock
`;

// /proc/net/tcp: st 0A is TCP_LISTEN, 01 ESTABLISHED; the inode is the tenth column.
const NET_TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 2002 1 0000000000000000 20 4 30 10 -1
`;

const NET_TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:2328 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3001 1 0000000000000000 100 0 0 10 0
`;

describe('socketInode', () => {
  test.each([
    ['socket:[1001]', '1001'],
    ['pipe:[77]', null],
    ['/dev/null', null],
    ['/dev/pts/0', null],
    ['anon_inode:[eventfd]', null],
    [null, null],
  ])('%j: %j', (link, inode) => {
    expect(socketInode(link)).toBe(inode);
  });
});

describe('unixSocketListens', () => {
  test.each([
    ['1001', true], // listening stream socket
    ['1002', false], // connected, unnamed: a child's stdio socketpair
    ['1003', false], // connected to a path
    ['1004', false], // datagram
    ['1005', false], // listening, but SOCK_SEQPACKET: not a FastCGI byte stream
    ['9999', null], // not a Unix socket
  ])('inode %s: %j', (inode, listens) => {
    expect(unixSocketListens(NET_UNIX, inode)).toBe(listens);
  });
});

describe('tcpSocketListens', () => {
  test.each([
    [NET_TCP, '2001', true],
    [NET_TCP, '2002', false],
    [NET_TCP, '3001', null],
    [NET_TCP6, '3001', true],
    ['', '2001', null],
  ])('%#: inode %s: %j', (table, inode, listens) => {
    expect(tcpSocketListens(table, inode)).toBe(listens);
  });
});

/** A /proc where fd 0 links to `fd0` and the tables are the fixtures above (or unreadable). */
function proc(fd0: string | null, readable = true): ProcFiles {
  const tables: Record<string, string> = {
    '/proc/net/unix': NET_UNIX,
    '/proc/net/tcp': NET_TCP,
    '/proc/net/tcp6': NET_TCP6,
  };
  return {
    readlink: (path) => (path === '/proc/self/fd/0' ? fd0 : null),
    read: (path) => (readable ? (tables[path] ?? null) : null),
  };
}

describe('isListeningSocket(0)', () => {
  test.each([
    ['a listening Unix socket', 'socket:[1001]', true],
    ['a listening TCP socket', 'socket:[2001]', true],
    ['a listening TCP6 socket', 'socket:[3001]', true],
    ['a connected Unix socket', 'socket:[1002]', false],
    ['an established TCP connection', 'socket:[2002]', false],
    ['a socket in no table (netlink, another namespace)', 'socket:[4242]', false],
    ['a pipe', 'pipe:[77]', false],
    ['/dev/null', '/dev/null', false],
    ['a terminal', '/dev/pts/3', false],
    ['a closed descriptor', null, false],
  ])('%s: %j', (_name, link, listens) => {
    expect(isListeningSocket(0, proc(link))).toBe(listens);
  });

  test('without readable tables (no /proc) nothing counts', () => {
    expect(isListeningSocket(0, proc('socket:[1001]', false))).toBe(false);
  });
});

test('spawnedListener: FastCGI on fd 0, named for the spec constant', () => {
  expect(spawnedListener(proc('socket:[1001]'))).toEqual({
    protocol: 'fastcgi',
    address: { kind: 'fd', fd: 0, name: 'FCGI_LISTENSOCK_FILENO' },
  });
  expect(spawnedListener(proc('pipe:[77]'))).toBeNull();
});
