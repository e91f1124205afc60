// The request body as the app reads it (`sluice.input`), with backpressure reaching the connection.
import { Readable } from 'node:stream';
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

  private releaseSource(): void {
    if (this.paused) {
      this.paused = false;
      this.source.resume();
    }
  }
}
