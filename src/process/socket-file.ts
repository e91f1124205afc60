// Unix socket files: made listening under a temporary name, renamed into place, removed only while still ours.
import { lstat, rename, unlink } from 'node:fs/promises';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { socketBindingName } from '../common/address';
import { UsageError } from '../errors';
import type { Logger } from './logger';

/**
 * A socket file as this process put it in place. The path may later lead to another daemon's
 * socket (a restart that took it over): the file is removed at exit only while it is still this one.
 */
export interface OwnSocketFile {
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
}

/**
 * Where a socket is bound before it listens: in the same directory, since rename() stays on one file
 * system. The name carries this process's id: a socket found there is a dead process's, removed.
 */
export async function temporarySocketPath(socketPath: string): Promise<string> {
  const temporary = socketBindingName(socketPath, process.pid);
  const stats = await lstat(temporary).catch(() => null);
  if (stats?.isSocket()) await unlink(temporary);
  return temporary;
}

/**
 * What is at `socketPath` before a start: nothing, a socket nobody answers on (a crashed daemon's, or
 * one that stopped and drains) to be replaced, or an error for a live server or a file not a socket.
 */
export async function checkSocketPath(socketPath: string): Promise<void> {
  let stats;
  try {
    stats = await lstat(socketPath);
  } catch {
    return;
  }
  if (!stats.isSocket()) {
    throw new UsageError('ERR_LISTEN', `${socketPath} exists and is not a socket; refusing to replace it`);
  }
  // Replacing a live server's socket would silently steal its traffic. A daemon told to stop a
  // moment ago may still answer until its workers have closed their copies: asked again shortly.
  for (let probe = 1; await answers(socketPath); probe++) {
    if (probe === LIVE_PROBES)
      throw new UsageError('ERR_LISTEN', `${socketPath} is in use by a running server`);
    await sleep(LIVE_PROBE_INTERVAL_MS);
  }
}

/** A socket still answering after this many probes, this far apart, is a live server's. */
const LIVE_PROBES = 3;
const LIVE_PROBE_INTERVAL_MS = 100;

/** checkSocketPath(), then the stale socket removed: for a listener bound by another means than a rename. */
export async function removeStaleSocket(socketPath: string): Promise<void> {
  await checkSocketPath(socketPath);
  await unlink(socketPath).catch(() => undefined);
}

function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect({ path: socketPath });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Renames a socket that already listens over `socketPath`. rename() replaces whatever was there in
 * one step: a client finds the old file or the new socket, never no file, never one that refuses.
 */
export async function publishSocketFile(temporary: string, socketPath: string): Promise<OwnSocketFile> {
  try {
    await rename(temporary, socketPath);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw new UsageError(
      'ERR_LISTEN',
      `cannot put the socket in place at ${socketPath}: ${(error as NodeJS.ErrnoException).code}`,
      { cause: error },
    );
  }
  const stats = await lstat(socketPath);
  return { path: socketPath, dev: stats.dev, ino: stats.ino };
}

/**
 * Removes this process's socket file at exit. Gone already, or replaced by a successor's socket, it
 * is left alone. One left behind (after --user dropped the right to its directory) is logged: the
 * next start replaces it.
 */
export async function removeOwnSocketFile(file: OwnSocketFile, log: Logger): Promise<void> {
  const leftBehind = (error: NodeJS.ErrnoException): void => {
    if (error.code === 'ENOENT') return;
    log.warn(
      { code: 'ERR_SOCKET_LEFT', path: file.path, reason: error.code },
      'socket file left behind: the next start replaces it',
    );
  };
  let stats;
  try {
    stats = await lstat(file.path);
  } catch (error) {
    return leftBehind(error as NodeJS.ErrnoException);
  }
  if (stats.dev !== file.dev || stats.ino !== file.ino) {
    log.info({ path: file.path }, 'socket file now belongs to another server: left in place');
    return;
  }
  await unlink(file.path).catch(leftBehind);
}
