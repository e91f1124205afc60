// Body bytes an app is not reading yet, held when the connection cannot pause: memory up to a cap, then a temp file.
import { randomBytes } from 'node:crypto';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BodySource } from '../gateway/input';
import type { SpoolBudget } from './spool-budget';

const READ_SIZE = 64 * 1024;

/** Where the spool hands the bytes on, in order, and says that the body ended. */
export interface SpoolTarget {
  deliver(chunk: Buffer): void;
  end(): void;
}

/**
 * On a multiplexed FastCGI connection one request's slow reader must not stall the others, and the
 * protocol has no flow control, so its unread body is parked here instead of pausing the socket:
 * in memory up to `memoryCap` bytes, beyond that in an unlinked temporary file. Order is kept:
 * once bytes go to the file, later ones follow them there until the file is read back.
 */
export class BodySpool implements BodySource {
  private body: SpoolTarget | null = null;
  private readonly memory: Buffer[] = [];
  private memoryBytes = 0;
  private file: Promise<FileHandle> | null = null;
  /** File bytes scheduled for writing, written, and read back so far. */
  private written = 0;
  private flushed = 0;
  private read = 0;
  /**
   * Bytes waiting for the file, written in one batch per write: one write per socket chunk falls
   * behind a fast sender, and every chunk waiting would stay in memory.
   */
  private unflushed: Buffer[] = [];
  private unflushedBytes = 0;
  private flushing: Promise<void> | null = null;
  /** Set while `throttle(true)` holds the source back until the file catches up. */
  private throttled = false;
  private paused = false;
  private ended = false;
  private draining = false;
  private closed = false;

  constructor(
    private readonly memoryCap: number,
    /** The process's disk budget for spools; a chunk it cannot take ends the request with `full`. */
    private readonly budget: SpoolBudget,
    private readonly full: () => void,
    private readonly onError: (error: Error) => void,
    /**
     * Holds the source back (true) while more than `memoryCap` bytes wait for the file, and lets it go
     * (false) once they are written: a stall as long as a disk write, never as long as the app.
     */
    private readonly throttle: ((paused: boolean) => void) | null = null,
  ) {}

  attach(body: SpoolTarget): void {
    this.body = body;
  }

  /** Bytes held in memory right now. */
  get bufferedBytes(): number {
    return this.memoryBytes;
  }

  /** True while bytes sit in the temporary file. */
  get spilled(): boolean {
    return this.written > this.read;
  }

  push(chunk: Buffer): void {
    if (this.closed) return;
    if (!this.paused && this.memory.length === 0 && !this.spilled && !this.draining) {
      this.body!.deliver(chunk);
      return;
    }
    if (!this.spilled && this.memoryBytes + chunk.length <= this.memoryCap) {
      // A copy: a view would pin the whole socket chunk and defeat the memory cap.
      this.memory.push(Buffer.from(chunk));
      this.memoryBytes += chunk.length;
      return;
    }
    if (!this.budget.take(chunk.length)) {
      this.full();
      return;
    }
    this.spill(Buffer.from(chunk));
  }

  /** The front end ended the body; it ends for the app once everything held was read. */
  finish(): void {
    this.ended = true;
    this.drain();
  }

  /** Releases memory and the file; nothing more is delivered. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.memory.length = 0;
    this.memoryBytes = 0;
    this.unflushed = [];
    this.unflushedBytes = 0;
    this.budget.give(this.written);
    this.release();
    const file = this.file;
    this.file = null;
    if (file !== null) {
      void (this.flushing ?? Promise.resolve())
        .then(() => file)
        .then(
          (handle) => handle.close(),
          () => undefined,
        );
    }
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.drain();
  }

  private spill(chunk: Buffer): void {
    this.file ??= openSpillFile();
    this.written += chunk.length;
    this.unflushed.push(chunk);
    this.unflushedBytes += chunk.length;
    if (this.unflushedBytes > this.memoryCap && this.throttle !== null) {
      // Every time, not once: another spool on the connection may have let the source go meanwhile.
      this.throttled = true;
      this.throttle(true);
    }
    this.flushing ??= this.flush(this.file);
  }

  /** Writes what waits for the file, one batch at a time, until nothing does. */
  private async flush(file: Promise<FileHandle>): Promise<void> {
    try {
      const handle = await file;
      while (this.unflushed.length > 0 && !this.closed) {
        const batch = this.unflushed;
        const size = this.unflushedBytes;
        this.unflushed = [];
        this.unflushedBytes = 0;
        const { bytesWritten } = await handle.writev(batch, this.flushed);
        if (bytesWritten !== size)
          throw new Error(`short write to the body spool: ${bytesWritten} of ${size}`);
        this.flushed += size;
        if (this.unflushedBytes <= this.memoryCap) this.release();
      }
    } catch (error) {
      this.fail(error as Error);
    } finally {
      this.flushing = null;
    }
  }

  private release(): void {
    if (!this.throttled) return;
    this.throttled = false;
    this.throttle?.(false);
  }

  private drain(): void {
    if (this.draining || this.closed || this.body === null) return;
    while (!this.paused && this.memory.length > 0) {
      const chunk = this.memory.shift()!;
      this.memoryBytes -= chunk.length;
      this.body.deliver(chunk);
    }
    if (this.spilled) {
      if (!this.paused) void this.drainFile();
      return;
    }
    if (!this.paused && this.ended && this.memory.length === 0) this.body.end();
  }

  private async drainFile(): Promise<void> {
    this.draining = true;
    try {
      while (!this.paused && !this.closed && this.spilled) {
        if (this.read === this.flushed) {
          // The next bytes are still on their way to the file.
          if (this.flushing === null) return;
          await this.flushing;
          continue;
        }
        const handle = await this.file!;
        const size = Math.min(READ_SIZE, this.flushed - this.read);
        const chunk = Buffer.allocUnsafe(size);
        const { bytesRead } = await handle.read(chunk, 0, size, this.read);
        if (this.closed) return;
        this.read += bytesRead;
        this.body!.deliver(bytesRead === size ? chunk : chunk.subarray(0, bytesRead));
      }
    } catch (error) {
      this.fail(error as Error);
      return;
    } finally {
      this.draining = false;
    }
    this.drain();
  }

  private fail(error: Error): void {
    if (this.closed) return;
    this.close();
    this.onError(error);
  }
}

/** A temporary file nobody else can open: created 0600 and unlinked at once. */
async function openSpillFile(): Promise<FileHandle> {
  const file = path.join(os.tmpdir(), `sluice-body-${process.pid}-${randomBytes(6).toString('hex')}`);
  const handle = await open(file, 'wx+', 0o600);
  await unlink(file);
  return handle;
}
