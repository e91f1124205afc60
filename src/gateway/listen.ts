// Binding listeners: stale Unix sockets replaced only when dead, socket modes, the bound address.
import { chmod, lstat, unlink } from 'node:fs/promises';
import net from 'node:net';
import { UsageError } from '../errors';
import type { ListenAddress } from './address';

/** Binds `server` to `address` and resolves with the address actually bound (the real port for :0). */
export async function listenOn(
  server: net.Server,
  address: ListenAddress,
  socketMode: number,
): Promise<ListenAddress> {
  if (address.kind === 'tcp') {
    await bind(server, { host: address.host, port: address.port });
    const bound = server.address() as net.AddressInfo;
    return { kind: 'tcp', host: address.host, port: bound.port };
  }
  await removeStaleSocket(address.path);
  await bind(server, { path: address.path });
  await chmod(address.path, socketMode);
  return address;
}

function bind(server: net.Server, options: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const where = options.path ?? `${options.host}:${options.port}`;
      reject(
        new UsageError('ERR_LISTEN', `cannot listen on ${where}: ${error.code ?? error.message}`, {
          cause: error,
        }),
      );
    };
    server.once('error', onError);
    server.listen({ ...options, backlog: 511 }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * A socket file left by a crashed daemon would make listen() fail with EADDRINUSE. Remove it only
 * when nothing answers on it: replacing a live daemon's socket would silently steal its traffic.
 */
async function removeStaleSocket(path: string): Promise<void> {
  let stats;
  try {
    stats = await lstat(path);
  } catch {
    return;
  }
  if (!stats.isSocket()) {
    throw new UsageError('ERR_LISTEN', `${path} exists and is not a socket; refusing to replace it`);
  }
  if (await answers(path)) {
    throw new UsageError('ERR_LISTEN', `${path} is in use by a running server`);
  }
  await unlink(path);
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** Removes a Unix socket file at exit; gone already is fine. */
export async function removeSocketFile(address: ListenAddress): Promise<void> {
  if (address.kind !== 'unix') return;
  await unlink(address.path).catch(() => undefined);
}
