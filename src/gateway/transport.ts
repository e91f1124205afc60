// What a protocol connection offers the gateway driver for one response.
import type { Logger } from 'pino';
import type { Cancellation } from './cancellation';
import type { ResponseHead } from './response-head';

/**
 * The response side of one request, implemented by each protocol's connection layer. A returned
 * promise means "wait before writing more" (backpressure); it settles at the latest when the
 * connection closes, so awaiting it can never hang.
 */
export interface ResponseTransport {
  /** Set off when the front end goes away or aborts the request. */
  readonly cancellation: Cancellation;
  /** The request's logger. */
  readonly log: Logger;
  /**
   * Sends the validated head, with the first body chunk when there is one (one socket write).
   * `bodyLength` is the whole body's length when the app returned it all at once; the transport
   * then adds a Content-Length the app did not set (see withContentLength).
   */
  sendHead(head: ResponseHead, first: Buffer | null, bodyLength?: number): Promise<void> | undefined;
  /** Sends a body chunk (never empty). */
  sendBody(chunk: Buffer): Promise<void> | undefined;
  /** The response is complete. */
  end(): void;
  /**
   * The response broke after its head went out: make it look incomplete to the front end rather
   * than complete and short.
   */
  abort(error: Error): void;
}
