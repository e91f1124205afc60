// The request body as the app reads it (`sluice.input`), with backpressure reaching the connection.
import { finished, Readable } from 'node:stream';
import { ProtocolError } from '../errors';

/** Where body bytes come from: the connection pauses its source while the app is not reading. */
export interface BodySource {
  pause(): void;
  resume(): void;
}

/**
 * A Readable fed by a connection. With a declared length it yields exactly that many bytes: a short
 * body makes the stream error, excess is discarded and reported; without one it runs to the end of
 * the request body.
 */
export class RequestBody extends Readable {
  private received = 0;
  private paused = false;
  private finished = false;

  constructor(
    private readonly source: BodySource,
    /** CONTENT_LENGTH as a number, or null when the front end sent none (streamed upload). */
    private readonly expected: number | null,
    private readonly onExcess: (bytes: number) => void,
    highWaterMark = 64 * 1024,
  ) {
    super({ highWaterMark });
  }

  /** Body bytes from the front end. */
  deliver(chunk: Buffer): void {
    if (this.destroyed) return;
    // Pushing after the end of the stream would make it error; whatever follows the end is excess.
    if (this.finished) {
      if (chunk.length > 0) this.onExcess(chunk.length);
      return;
    }
    let accepted = chunk;
    if (this.expected !== null && this.received + chunk.length > this.expected) {
      const room = this.expected - this.received;
      this.onExcess(chunk.length - room);
      if (room === 0) return;
      accepted = chunk.subarray(0, room);
    }
    this.received += accepted.length;
    if (!this.push(accepted) && !this.paused) {
      this.paused = true;
      this.source.pause();
    }
  }

  /** The body has ended, completely or not: nothing more will be delivered. */
  get settled(): boolean {
    return this.finished || this.destroyed;
  }

  /** The front end ended the body. */
  finish(): void {
    if (this.destroyed || this.finished) return;
    this.finished = true;
    // _read() is not called past the end, so a source paused now would stay paused for good.
    this.releaseSource();
    if (this.expected !== null && this.received < this.expected) {
      this.fail(
        new ProtocolError(
          'ERR_BODY_TRUNCATED',
          `request body ended after ${this.received} of ${this.expected} bytes`,
          400,
        ),
      );
      return;
    }
    this.push(null);
  }

  /** The body can never complete (connection closed, request aborted). */
  fail(error: Error): void {
    if (this.destroyed || this.readableEnded) return;
    this.releaseSource();
    // Without a listener the error would be thrown as uncaught; an app that never reads the body
    // does not care why it ended.
    if (this.listenerCount('error') === 0) this.once('error', () => undefined);
    this.destroy(error);
  }

  override _read(): void {
    this.releaseSource();
  }

  /**
   * `for await` yields the chunks as they were delivered. Node's own iterator reads the stream in
   * paused mode, where read() returns everything buffered as one buffer: the several records of one
   * socket read become a copy of all of them, and a 10 MiB upload read this way spent a third of its
   * CPU time copying, on top of collecting the copies. Here the chunks flow, up to the high
   * water mark, and each is handed over as it came. How the loop ends is Node's: the stream's end
   * ends it, its error or a close before the end throws, and a loop left early destroys the stream.
   */
  override async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    const queue: Buffer[] = [];
    let queued = 0;
    let outcome: Error | null | undefined;
    let wake: (() => void) | null = null;
    const notify = (): void => {
      const resume = wake;
      wake = null;
      resume?.();
    };
    const onData = (chunk: Buffer): void => {
      queue.push(chunk);
      queued += chunk.length;
      if (queued >= this.readableHighWaterMark) this.pause();
      notify();
    };
    this.on('data', onData);
    const stopWatching = finished(this, { writable: false }, (error) => {
      outcome = error ?? null;
      notify();
    });
    try {
      for (;;) {
        const chunk = queue.shift();
        if (chunk !== undefined) {
          queued -= chunk.length;
          if (queued < this.readableHighWaterMark && this.isPaused() && outcome === undefined) this.resume();
          yield chunk;
        } else if (outcome === null) return;
        else if (outcome !== undefined) throw outcome;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      this.off('data', onData);
      stopWatching();
      if (!this.destroyed) this.destroy();
    }
  }

  private releaseSource(): void {
    if (this.paused) {
      this.paused = false;
      this.source.resume();
    }
  }
}
