// Opening the client's connection: address parsing shared with the listeners, typed failures, a timeout.
import net from 'node:net';
import { UsageError } from '../errors';
import { parseAddress, type ListenAddress } from '../common/address';
import { ClientError } from './errors';

/** Inactivity timeout when the caller names none. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** The address as a parsed value; a string is read like a listener flag (`:port` means loopback). */
export function resolveAddress(address: string | ListenAddress): ListenAddress {
  return typeof address === 'string' ? parseAddress(address) : address;
}

/** Options for `net.connect` reaching `address`. */
export function netConnectOptions(address: string | ListenAddress): net.NetConnectOpts {
  const parsed = resolveAddress(address);
  if (parsed.kind === 'unix') return { path: parsed.path };
  if (parsed.kind === 'tcp') return { host: parsed.host, port: parsed.port };
  // fd:N names a listening socket this process inherited: only a listener can use one.
  throw new UsageError('ERR_USAGE_ADDRESS', `cannot connect to an inherited socket (fd ${parsed.fd})`);
}

/**
 * Connects, resolving with the socket once it is open. Rejects with ERR_CLIENT_CONNECT (refused,
 * no such socket, permission) or ERR_CLIENT_TIMEOUT. Messages leave the address to the caller.
 */
export function connect(
  address: string | ListenAddress,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<net.Socket> {
  const parsed = resolveAddress(address);
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new ClientError('ERR_CLIENT_ABORTED', 'request aborted'));
      return;
    }
    const socket = net.connect(netConnectOptions(parsed));
    const settle = (error: ClientError | undefined): void => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      socket.removeListener('connect', onConnect);
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) {
        resolve(socket);
      } else {
        socket.destroy();
        reject(error);
      }
    };
    const onError = (error: NodeJS.ErrnoException): void =>
      settle(
        new ClientError('ERR_CLIENT_CONNECT', `cannot connect: ${error.code ?? error.message}`, {
          cause: error,
        }),
      );
    const onConnect = (): void => settle(undefined);
    const onAbort = (): void => settle(new ClientError('ERR_CLIENT_ABORTED', 'request aborted'));
    const timer = setTimeout(
      () => settle(new ClientError('ERR_CLIENT_TIMEOUT', `cannot connect: no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once('error', onError);
    socket.once('connect', onConnect);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
