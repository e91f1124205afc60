// The file session store: one file per session in a directory, written atomically, expired files swept.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, readdir, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors';
import { isSessionId } from './session-keys';
import type { SessionStore } from './session-store';

const SUFFIX = '.json';
const TEMP_SUFFIX = '.tmp';

/**
 * Each session is `<id>.json` in `directory`, whose modification time is set to the moment the
 * session expires: a stat alone tells a sweep what to remove, without reading a file. A save writes
 * a temporary file and renames it over the old one, so a reader (another worker, another host on
 * a shared directory) sees the old session or the new one, never half of one. Workers sharing the
 * directory share sessions.
 */
export class FileStore implements SessionStore {
  private sweeper: NodeJS.Timeout | null = null;

  /** Makes `directory` (mode 0700) if missing; refused with ERR_SESSION_OPTIONS when it cannot be. */
  constructor(
    private readonly directory: string,
    private readonly sweepIntervalMs: number,
  ) {
    try {
      mkdirSync(directory, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new UsageError(
        'ERR_SESSION_OPTIONS',
        `sessions: the file store's directory ${directory} cannot be made: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  async get(id: string): Promise<string | undefined> {
    if (!isSessionId(id)) return undefined;
    const file = this.file(id);
    let handle;
    try {
      handle = await open(file, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      if (expired((await handle.stat()).mtimeMs)) {
        await removeFile(file);
        return undefined;
      }
      return await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  }

  async set(id: string, json: string, maxAgeMs: number): Promise<void> {
    if (!isSessionId(id)) throw new Error(`not a session id: ${id}`);
    this.startSweeping();
    const temp = path.join(this.directory, `${id}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
    try {
      await writeFile(temp, json, { mode: 0o600 });
      const expires = new Date(Date.now() + maxAgeMs);
      await utimes(temp, expires, expires);
      await rename(temp, this.file(id));
    } catch (error) {
      await removeFile(temp);
      throw error;
    }
  }

  async delete(id: string): Promise<void> {
    if (isSessionId(id)) await removeFile(this.file(id));
  }

  /**
   * Removes expired sessions, and temporary files a crashed save left behind (their status changed
   * more than a sweep interval ago). Other files are left alone. Resolves to how many went.
   */
  async sweep(): Promise<number> {
    let removed = 0;
    const now = Date.now();
    for (const name of await readdir(this.directory)) {
      const file = path.join(this.directory, name);
      const stale = name.endsWith(SUFFIX)
        ? (info: { mtimeMs: number }) => expired(info.mtimeMs)
        : name.endsWith(TEMP_SUFFIX)
          ? (info: { ctimeMs: number }) => info.ctimeMs < now - this.sweepIntervalMs
          : null;
      if (stale === null) continue;
      try {
        if (stale(await stat(file))) {
          await removeFile(file);
          removed++;
        }
      } catch (error) {
        // Removed meanwhile by another worker's sweep or a save: nothing left to do.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    return removed;
  }

  private file(id: string): string {
    return path.join(this.directory, id + SUFFIX);
  }

  /** Sweeps every interval once the store is used; unref'd, so it never keeps a process alive. */
  private startSweeping(): void {
    if (this.sweeper !== null) return;
    this.sweeper = setInterval(() => {
      // A failing sweep (directory gone, permissions) is retried next interval; reads still check expiry.
      this.sweep().catch(() => undefined);
    }, this.sweepIntervalMs);
    this.sweeper.unref();
  }
}

function expired(mtimeMs: number): boolean {
  return mtimeMs <= Date.now();
}

async function removeFile(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
