// Unix socket files: made listening under a temporary name, renamed into place, removed only while still ours.
import { link, lstat, rename, unlink } from 'node:fs/promises';
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
 * one that stopped) to be replaced, or an error for a file not a socket. A socket that answers is a
 * running server's: replacing it would silently steal its traffic, so it is waited for, up to
 * `waitMs`, in case it is a daemon stopping (through its --stop-grace and drain, still listening) that
 * this start replaces. The caller renames its own listening socket over the path as soon as this
 * returns, so a restart refuses nothing in between.
 */
export async function checkSocketPath(socketPath: string, waitMs: number): Promise<void> {
  let stats;
  try {
    stats = await lstat(socketPath);
  } catch {
    return;
  }
  if (!stats.isSocket()) {
    throw new UsageError('ERR_LISTEN', `${socketPath} exists and is not a socket; refusing to replace it`);
  }
  const deadline = Date.now() + Math.max(waitMs, MIN_LIVE_WAIT_MS);
  while (await answers(socketPath)) {
    if (Date.now() >= deadline) {
      throw new UsageError(
        'ERR_LISTEN',
        `${socketPath} is in use by a running server (waited ${Math.max(waitMs, MIN_LIVE_WAIT_MS)} ms for it to stop)`,
      );
    }
    await sleep(LIVE_PROBE_INTERVAL_MS);
  }
}

/**
 * A daemon told to stop a moment ago answers until its workers have closed their copies, even with
 * no grace and no drain; probed this often, so a takeover follows its close closely.
 */
const MIN_LIVE_WAIT_MS = 300;
const LIVE_PROBE_INTERVAL_MS = 20;

/** checkSocketPath(), then the stale socket removed: for a listener bound by another means than a rename. */
export async function removeStaleSocket(socketPath: string, waitMs: number): Promise<void> {
  await checkSocketPath(socketPath, waitMs);
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
 * Removes this process's socket file as it stops (before its listeners close, see
 * accept-queue.ts) or at exit. Gone already, or replaced by a successor's socket, it is left
 * alone. One left behind (after --user dropped the right to its directory) is logged: the next start
 * replaces it.
 *
 * A successor renames its socket over the path the moment this process's listeners stop answering,
 * which may fall between the look at the path and the removal: unlinking the path then would remove
 * the successor's file, and every client after it would find no socket. So the file is first moved
 * aside in one step, to this process's own name, and looked at there; a successor's socket moved by
 * mistake is linked back at once (link() never replaces a file a still newer start put there).
 */
export async function removeOwnSocketFile(file: OwnSocketFile, log: Logger): Promise<void> {
  const leftBehind = (error: NodeJS.ErrnoException): void => {
    if (error.code === 'ENOENT') return;
    log.warn(
      { code: 'ERR_SOCKET_LEFT', path: file.path, reason: error.code },
      'socket file left behind: the next start replaces it',
    );
  };
  const takenOver = (): void =>
    log.info({ path: file.path }, 'socket file now belongs to another server: left in place');
  const isOwn = (stats: { dev: number; ino: number }): boolean =>
    stats.dev === file.dev && stats.ino === file.ino;
  try {
    if (!isOwn(await lstat(file.path))) return takenOver();
  } catch (error) {
    return leftBehind(error as NodeJS.ErrnoException);
  }
  const aside = socketBindingName(file.path, process.pid);
  try {
    await rename(file.path, aside);
  } catch (error) {
    return leftBehind(error as NodeJS.ErrnoException);
  }
  if (isOwn(await lstat(aside))) {
    await unlink(aside).then(() => log.info({ path: file.path }, 'socket file removed'), leftBehind);
    return;
  }
  await putBack(aside, file.path).catch(leftBehind);
  takenOver();
}

/**
 * Gives a successor's socket, moved aside by mistake, its path again. link() leaves a file that a
 * still newer start put at the path meanwhile; where links are refused (fs.protected_hardlinks, a
 * socket of another user), rename() puts it back, as the only way left.
 */
async function putBack(aside: string, socketPath: string): Promise<void> {
  try {
    await link(aside, socketPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return rename(aside, socketPath);
  }
  await unlink(aside);
}
