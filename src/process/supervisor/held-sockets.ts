// Listening sockets the primary binds and keeps open for the daemon's whole life; workers listen on copies.
import { spawn } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { UsageError } from '../../errors';
import { formatAddress, type ListenAddress } from '../../common/address';
import { setSocketFileAccess, type SocketOptions } from '../listen';
import { checkSocketPath, publishSocketFile, temporarySocketPath, type OwnSocketFile } from '../socket-file';

/** The handle node:net binds servers with (TCP or Pipe wrap): bound, not listening in this process. */
export interface ServerHandle {
  readonly fd: number;
  getsockname?(out: { port?: number }): number;
  close(): void;
}

type CreateServerHandle = (
  address: string | null,
  port: number,
  addressType: number,
  fd: number | undefined,
  flags: number,
) => ServerHandle | number;

/**
 * A socket bound here and held, never listened on in this process. node:cluster would close the
 * handle it shares once its last worker died, so with one worker a crash refused connections (and
 * removed the socket file) until the replacement listened. Held here, the socket stays: connections
 * wait in its backlog for the next worker.
 */
export interface HeldSocket {
  /** The descriptor in this process, passed to every worker it forks. */
  readonly fd: number;
  /** The address bound (the real port for :0), for logs and status. */
  readonly address: ListenAddress;
  readonly handle: ServerHandle;
  /** Where a Unix socket was bound before it listened; libuv removes that name when closing it. */
  readonly temporary: string | null;
  /** The Unix socket file put in place, removed at exit while still this one. */
  file: OwnSocketFile | null;
}

/**
 * node:net's own function for the handles node:cluster shares (internal, present in every release
 * since cluster exists). Null if it is gone: the primary then lets node:cluster share the listeners.
 */
function serverHandleFactory(): CreateServerHandle | null {
  const factory = (net as unknown as { _createServerHandle?: CreateServerHandle })._createServerHandle;
  return typeof factory === 'function' ? factory : null;
}

export function canHoldSockets(): boolean {
  return serverHandleFactory() !== null;
}

/**
 * A handle on a listening socket this process inherited, so that copies of it can be sent to workers
 * over IPC like those of the sockets bound here.
 */
export function inheritedHandle(fd: number): ServerHandle {
  const handle = serverHandleFactory()!(null, 0, -1, fd, 0);
  if (typeof handle === 'number') {
    throw new UsageError('ERR_LISTEN', `cannot use inherited fd ${fd}: ${getSystemErrorName(handle)}`);
  }
  return handle;
}

/**
 * Binds every address (none an inherited descriptor), makes the sockets listen, and only then puts
 * Unix socket files in place: from the moment a file is there or a port is bound, a connection
 * waits in the backlog until a worker takes it. On failure, whatever was bound is closed.
 */
export async function holdSockets(
  addresses: readonly ListenAddress[],
  options: SocketOptions,
): Promise<HeldSocket[]> {
  const held: HeldSocket[] = [];
  try {
    for (const address of addresses) {
      if (address.kind === 'unix') await checkSocketPath(address.path);
      held.push(await bindSocket(address, options));
    }
    await listenWithoutAccepting(held, options.backlog);
    for (const socket of held) {
      if (socket.temporary === null || socket.address.kind !== 'unix') continue;
      socket.file = await publishSocketFile(socket.temporary, socket.address.path);
    }
  } catch (error) {
    for (const socket of held) socket.handle.close();
    throw error;
  }
  return held;
}

/** Binds `address`, a Unix socket under a temporary name, with the socket file's access set. */
async function bindSocket(address: ListenAddress, options: SocketOptions): Promise<HeldSocket> {
  const create = serverHandleFactory()!;
  let handle: ServerHandle | number;
  let bound = address;
  let temporary: string | null = null;
  if (address.kind === 'unix') {
    temporary = await temporarySocketPath(address.path);
    handle = create(temporary, -1, -1, undefined, 0);
  } else if (address.kind === 'tcp') {
    const ip = net.isIP(address.host) !== 0 ? address.host : (await lookup(address.host)).address;
    handle = create(ip, address.port, net.isIP(ip), undefined, 0);
  } else {
    throw new Error(`inherited descriptor ${address.fd} is held by whoever passed it`);
  }
  if (typeof handle === 'number') {
    throw new UsageError(
      'ERR_LISTEN',
      `cannot listen on ${formatAddress(address)}: ${getSystemErrorName(handle)}`,
    );
  }
  try {
    if (address.kind === 'tcp') {
      const out: { port?: number } = {};
      handle.getsockname?.(out);
      // libuv keeps a bind's EADDRINUSE for listen(), which happens elsewhere: on a fresh handle, in
      // another process, it would listen on an ephemeral port. Unbound, the socket has port 0.
      if (out.port === 0 || out.port === undefined) {
        throw new UsageError('ERR_LISTEN', `cannot listen on ${formatAddress(address)}: EADDRINUSE`);
      }
      bound = { ...address, port: out.port };
    } else {
      await setSocketFileAccess({ kind: 'unix', path: temporary! }, options);
    }
  } catch (error) {
    handle.close();
    throw error;
  }
  return { fd: handle.fd, address: bound, handle, temporary, file: null };
}

/**
 * listen(2) on the sockets, which accepting then leaves to the workers. Listening here through
 * node:net would also accept here (libuv watches whatever listens), and the primary never takes a
 * connection: a short-lived process listens on copies of the descriptors and exits at once. A
 * socket, not a descriptor, is what listens: it goes on listening, held here, after that exit.
 */
async function listenWithoutAccepting(held: readonly HeldSocket[], backlog: number): Promise<void> {
  if (held.length === 0) return;
  const child = spawn(process.execPath, ['-e', LISTEN_SCRIPT, String(backlog), String(held.length)], {
    stdio: ['ignore', 'ignore', 'pipe', ...held.map((h) => h.fd)],
    env: {},
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) {
    throw new UsageError(
      'ERR_LISTEN',
      `cannot listen on the bound sockets: ${stderr.trim() || `exit ${code}`}`,
    );
  }
}

/**
 * The child's whole program: listen() on descriptors 3, 4, … with the backlog given, then exit in the
 * same turn of the event loop, before libuv could accept anything.
 */
const LISTEN_SCRIPT = `
const net = require('node:net');
const [backlog, count] = process.argv.slice(1).map(Number);
for (let fd = 3; fd < 3 + count; fd++) {
  const server = net.createServer();
  server.on('error', () => undefined);
  server.listen({ fd }, backlog);
  if (!server.listening) {
    process.stderr.write('fd ' + fd + ' would not listen');
    process.exit(1);
  }
}
process.exit(0);
`;
