// Listening sockets the primary binds and keeps open for the daemon's whole life; workers listen on copies.
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { UsageError } from '../../errors';
import { formatAddress, type ListenAddress } from '../../common/address';
import { setSocketFileAccess, type SocketOptions } from '../listen';

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

/** Binds `address` (not an inherited descriptor) and sets the socket file's access. */
export async function holdSocket(address: ListenAddress, options: SocketOptions): Promise<HeldSocket> {
  const create = serverHandleFactory()!;
  let handle: ServerHandle | number;
  let bound = address;
  if (address.kind === 'unix') {
    handle = create(address.path, -1, -1, undefined, 0);
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
  if (address.kind === 'tcp') {
    const out: { port?: number } = {};
    handle.getsockname?.(out);
    bound = { ...address, port: out.port ?? address.port };
  } else {
    await setSocketFileAccess(address, options);
  }
  return { fd: handle.fd, address: bound, handle };
}
