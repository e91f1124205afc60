// Binding listeners: Unix sockets listening before they are renamed into place, socket modes and owners, inherited descriptors.
import cluster from 'node:cluster';
import { chmod, chown } from 'node:fs/promises';
import net from 'node:net';
import { UsageError } from '../errors';
import type { ListenAddress } from '../common/address';
import { checkSocketPath, publishSocketFile, temporarySocketPath, type OwnSocketFile } from './socket-file';

/** How Unix socket files are made, and whether other processes share the listeners. */
export interface SocketOptions {
  readonly mode: number;
  /** uid and gid given to socket files; undefined leaves them as created. */
  readonly uid?: number;
  readonly gid?: number;
  readonly backlog: number;
  /**
   * Sibling worker processes listen on the same addresses through node:cluster: a socket file that
   * answers is theirs, not a stale one (the primary removed stale ones before starting them).
   */
  readonly shared: boolean;
}

/** Where a listener was bound: the address (the real port for :0), and the socket file made. */
export interface Bound {
  readonly address: ListenAddress;
  /** The Unix socket file this process put in place; null for TCP, descriptors and shared listeners. */
  readonly file: OwnSocketFile | null;
}

/**
 * Binds `server` to `address` and listens. A Unix socket listens under a temporary name first and is
 * then renamed over the path (see socket-file.ts): from the moment the file is there, it accepts.
 */
export async function listenOn(
  server: net.Server,
  address: ListenAddress,
  options: SocketOptions,
): Promise<Bound> {
  if (address.kind === 'tcp') {
    await bind(server, { host: address.host, port: address.port, backlog: options.backlog });
    const bound = server.address() as net.AddressInfo;
    return { address: { kind: 'tcp', host: address.host, port: bound.port }, file: null };
  }
  if (address.kind === 'fd') {
    await bind(server, { fd: address.fd, backlog: options.backlog });
    return { address, file: null };
  }
  // node:cluster's primary binds the path itself, for every worker at once.
  if (options.shared) {
    await bind(server, { path: address.path, backlog: options.backlog });
    await setSocketFileAccess(address, options);
    return { address, file: null };
  }
  await checkSocketPath(address.path);
  const temporary = await temporarySocketPath(address.path);
  await bind(server, { path: temporary, backlog: options.backlog });
  await setSocketFileAccess({ kind: 'unix', path: temporary }, options);
  return { address, file: await publishSocketFile(temporary, address.path) };
}

/** --socket-mode, --socket-owner and --socket-group, applied to a bound Unix socket's file. */
export async function setSocketFileAccess(
  address: ListenAddress & { kind: 'unix' },
  options: SocketOptions,
): Promise<void> {
  await chmod(address.path, options.mode);
  if (options.uid !== undefined || options.gid !== undefined) {
    await chown(address.path, options.uid ?? -1, options.gid ?? -1);
  }
}

/**
 * A listening socket's handle (node:net's TCP or Pipe wrap) as another process of this daemon sent
 * it over the IPC channel: a fresh copy of a descriptor that process holds.
 */
export type ListenHandle = { readonly fd: number; close(): void };

/** listen() options, with the inherited descriptor form Node accepts but its types leave out. */
type BindOptions = net.ListenOptions & { fd?: number };

function bind(server: net.Server, options: BindOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const where =
        options.fd !== undefined ? `fd ${options.fd}` : (options.path ?? `${options.host}:${options.port}`);
      reject(
        new UsageError('ERR_LISTEN', `cannot listen on ${where}: ${error.code ?? error.message}`, {
          cause: error,
        }),
      );
    };
    server.once('error', onError);
    const listening = (): void => {
      server.off('error', onError);
      resolve();
    };
    if (options.fd !== undefined) listenAsOwner(server, { fd: options.fd }, options.backlog, listening);
    else server.listen(options, listening);
  });
}

/**
 * Listens again, after closing this process's copy of the socket, on a fresh copy received from the
 * process that holds it. node:net uses a TCP handle as it is; for a Unix socket it makes its own
 * handle on the same descriptor, and the one received is left unclosed: closing it would close
 * the descriptor the server now listens on.
 */
export function listenOnHandle(server: net.Server, handle: ListenHandle, backlog: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    listenAsOwner(server, handle, backlog, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Listens on an inherited descriptor, or one the primary holds. node:net takes the backlog of a
 * descriptor only as an argument, not from the options. In a worker, node:cluster sends every
 * listen() to the primary, which would open a descriptor of the same number in its own process;
 * this one is the worker's own, so it is opened here, as outside a cluster.
 */
function listenAsOwner(
  server: net.Server,
  target: ListenHandle | { fd: number },
  backlog: number | undefined,
  listening: () => void,
): void {
  const state = cluster as { isPrimary: boolean };
  const wasPrimary = state.isPrimary;
  state.isPrimary = true;
  try {
    server.listen(target, backlog, listening);
  } finally {
    state.isPrimary = wasPrimary;
  }
}
