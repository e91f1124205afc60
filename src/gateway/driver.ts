// Runs one request through an app: start_response rules, lazy head, streaming with backpressure, close().
import type { Cancellation } from './cancellation';
import { GatewayError, SluiceError } from '../errors';
import { NO_BODY } from './no-body';
import { plainResponse } from './plain-response';
import { bodyAllowed, validateHead, type ResponseHead } from './response-head';
import type { ResponseTransport } from './transport';
import type { App, AppResult, Body, Chunk, Environ, HeaderList, StartResponse, WriteFn } from './types';

/** Settles when the request is aborted; lets the driver stop waiting on an app that ignores the signal. */
const ABORTED = Symbol('aborted');

/**
 * One settled promise: what runApp returns for a request served without waiting, and what write()
 * returns when the transport took the chunk at once. An adapter may compare against it to carry on
 * at once rather than a microtask later.
 */
export const DONE: Promise<void> = Promise.resolve();

/**
 * Drives `app` for one request over `transport` and resolves when the response is complete or
 * abandoned; never rejects. Errors before the head went out become a 500; after it, the transport
 * makes the response look incomplete. The app's `close()` runs exactly once.
 *
 * A whole body the socket takes at once (the common short response) is served synchronously,
 * without a microtask per step: the async paths are for promises, iterables and backpressure.
 */
export function runApp(app: App, environ: Environ, transport: ResponseTransport): Promise<void> {
  const exchange = new Exchange(environ.REQUEST_METHOD, transport);
  let pending: AppResult;
  try {
    pending = app(environ, exchange.startResponse);
  } catch (error) {
    exchange.fail(error);
    return DONE;
  }
  return isPromise(pending) ? exchange.serveLater(pending) : exchange.serve(pending);
}

class Exchange {
  private head: ResponseHead | null = null;
  private headSent = false;
  /** The whole body's length, when it was known before the head went out. */
  private bodyLength: number | undefined = undefined;
  /** end() or abort() went to the transport: nothing may follow. */
  private ended = false;
  private abortPromise: Promise<typeof ABORTED> | null = null;
  private readonly cancellation: Cancellation;

  constructor(
    private readonly method: string,
    private readonly transport: ResponseTransport,
  ) {
    this.cancellation = transport.cancellation;
  }

  get aborted(): boolean {
    return this.cancellation.aborted;
  }

  private bodyAllowed(code: number): boolean {
    return bodyAllowed(this.method, code);
  }

  readonly startResponse: StartResponse = (
    status: string,
    headers: HeaderList,
    excInfo?: unknown,
  ): WriteFn => {
    if (this.head !== null && excInfo === undefined) {
      throw new GatewayError('ERR_GATEWAY_START_TWICE', 'startResponse called twice without excInfo');
    }
    // PEP 3333: once the head is out, the error being handled can only propagate.
    if (excInfo !== undefined && this.headSent) throw excInfo;
    this.head = validateHead(status, headers);
    return this.write;
  };

  private readonly write: WriteFn = (chunk: Chunk): Promise<void> => {
    if (this.aborted) return Promise.reject(abortedError());
    // A write kept past the end would reach a finished response (on FastCGI, maybe a reused request id).
    if (this.ended) {
      return Promise.reject(
        new GatewayError('ERR_GATEWAY_WRITE_AFTER_END', 'write() called after the response was finished'),
      );
    }
    try {
      const buffer = toBuffer(chunk);
      // PEP 3333: the head goes out at the first write() call, even an empty one (flushHeaders).
      if (buffer.length === 0) return this.sendHeadNow() ?? DONE;
      return this.send(buffer) ?? DONE;
    } catch (error) {
      return Promise.reject(error);
    }
  };

  /** Serves the body the app returned, then closes it. */
  serve(body: Body): Promise<void> {
    let wait: Promise<void> | undefined;
    try {
      wait = this.pump(body);
      if (wait === undefined && !this.aborted) this.finish();
    } catch (error) {
      this.fail(error);
      return closeBody(body, this.transport);
    }
    return wait === undefined ? closeBody(body, this.transport) : this.serveAfter(wait, body);
  }

  /** Waits for the app's promise (unless the request is aborted first), then serves its body. */
  async serveLater(pending: Promise<Body>): Promise<void> {
    let body: Body | typeof ABORTED;
    try {
      body = await this.unlessAborted(pending);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (body === ABORTED) {
      // The body may still arrive; whatever it holds must be released all the same.
      pending.then(
        (late) => closeBody(late, this.transport),
        () => undefined,
      );
      return;
    }
    return this.serve(body);
  }

  private async serveAfter(wait: Promise<void>, body: Body): Promise<void> {
    try {
      await wait;
      if (!this.aborted) this.finish();
    } catch (error) {
      this.fail(error);
    } finally {
      await closeBody(body, this.transport);
    }
  }

  /** Sends the body; a promise means it is still going (the socket asked to wait, or chunks are to come). */
  private pump(body: Body): Promise<void> | undefined {
    if (body === NO_BODY) return undefined;
    if (typeof body === 'string' || body instanceof Uint8Array) return this.pumpWhole([body]);
    if (Array.isArray(body)) return this.pumpWhole(body as Chunk[]);
    if (
      body === null ||
      typeof body !== 'object' ||
      (typeof (body as Partial<AsyncIterable<Chunk>>)[Symbol.asyncIterator] !== 'function' &&
        typeof (body as Partial<Iterable<Chunk>>)[Symbol.iterator] !== 'function')
    ) {
      throw new GatewayError('ERR_GATEWAY_BAD_BODY', 'the app must return chunks or an iterable of chunks');
    }
    return this.pumpIterable(body);
  }

  /** Iterates the body, sending each non-empty chunk and waiting whenever the socket asks to. */
  private async pumpIterable(body: Iterable<Chunk> | AsyncIterable<Chunk>): Promise<void> {
    const iterator = (
      Symbol.asyncIterator in body ? body[Symbol.asyncIterator]() : body[Symbol.iterator]()
    ) as Iterator<Chunk> | AsyncIterator<Chunk>;
    let done = false;
    try {
      for (;;) {
        let step = iterator.next();
        if (isPromise(step)) {
          const settled = await this.unlessAborted(step);
          if (settled === ABORTED) return;
          step = settled;
        }
        if (step.done) {
          done = true;
          return;
        }
        const wait = this.send(toBuffer(step.value));
        if (wait) await wait;
        if (this.aborted) return;
      }
    } finally {
      // A generator cut short (abort or error) runs its finally blocks through return().
      if (!done && typeof iterator.return === 'function') {
        Promise.resolve()
          .then(() => iterator.return!())
          .catch(() => undefined);
      }
    }
  }

  /** A body known in full before anything is sent: its length goes in the head. */
  private pumpWhole(chunks: readonly Chunk[]): Promise<void> | undefined {
    const buffers = chunks.map(toBuffer);
    let length = 0;
    for (const buffer of buffers) length += buffer.length;
    this.bodyLength = length;
    return this.sendFrom(buffers, 0);
  }

  /** Sends `buffers` from `index` on, synchronously until the socket asks to wait. */
  private sendFrom(buffers: readonly Buffer[], index: number): Promise<void> | undefined {
    for (let i = index; i < buffers.length; i++) {
      const wait = this.send(buffers[i]);
      if (wait) return wait.then(() => (this.aborted ? undefined : this.sendFrom(buffers, i + 1)));
    }
    return undefined;
  }

  /** Sends a chunk, with the head first if it has not gone out yet. */
  private send(chunk: Buffer): Promise<void> | undefined {
    if (this.head === null) {
      throw new GatewayError('ERR_GATEWAY_NOT_STARTED', 'body sent before startResponse');
    }
    if (chunk.length === 0) return undefined;
    if (!this.headSent) {
      this.headSent = true;
      return this.transport.sendHead(
        this.head,
        this.bodyAllowed(this.head.code) ? chunk : null,
        this.bodyLength,
      );
    }
    return this.bodyAllowed(this.head.code) ? this.transport.sendBody(chunk) : undefined;
  }

  /** Sends the head without a body chunk, unless it went out already (write() exists only after a head). */
  private sendHeadNow(): Promise<void> | undefined {
    if (this.headSent) return undefined;
    this.headSent = true;
    return this.transport.sendHead(this.head!, null);
  }

  finish(): void {
    if (this.head === null) {
      throw new GatewayError('ERR_GATEWAY_NOT_STARTED', 'the app returned without calling startResponse');
    }
    if (!this.headSent) {
      this.headSent = true;
      this.transport.sendHead(this.head, null, this.bodyLength);
    }
    this.ended = true;
    this.transport.end();
  }

  fail(error: unknown): void {
    const log = this.transport.log;
    if (this.aborted) {
      log.debug({ err: error }, 'app ended after the client went away');
      return;
    }
    log.error({ err: error, code: (error as SluiceError)?.code }, 'app failed');
    this.ended = true;
    if (this.headSent) {
      this.transport.abort(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.headSent = true;
    const { head, body } = plainResponse(500);
    this.transport.sendHead(head, this.bodyAllowed(500) ? body : null);
    this.transport.end();
  }

  /** Waits for `promise` unless the request is aborted first. */
  unlessAborted<T>(promise: Promise<T>): Promise<T | typeof ABORTED> {
    if (this.aborted) {
      promise.catch(() => undefined);
      return Promise.resolve(ABORTED);
    }
    this.abortPromise ??= new Promise((resolve) => this.cancellation.onAbort(() => resolve(ABORTED)));
    return Promise.race([promise, this.abortPromise]);
  }
}

function toBuffer(chunk: Chunk): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new GatewayError(
    'ERR_GATEWAY_BAD_CHUNK',
    `body chunks must be strings or Uint8Arrays, not ${typeof chunk}`,
  );
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as Promise<T>)?.then === 'function';
}

function abortedError(): SluiceError {
  return new SluiceError('ERR_GATEWAY_ABORTED', 'the client went away');
}

/** PEP 3333: the server calls the body's close() once the response is finished or abandoned. */
function closeBody(result: unknown, transport: ResponseTransport): Promise<void> {
  const close = (result as { close?: unknown } | null | undefined)?.close;
  return typeof close === 'function'
    ? callClose(close as (this: unknown) => unknown, result, transport)
    : DONE;
}

async function callClose(
  close: (this: unknown) => unknown,
  result: unknown,
  transport: ResponseTransport,
): Promise<void> {
  try {
    await close.call(result);
  } catch (error) {
    transport.log.error({ err: error }, 'close() of the app body failed');
  }
}
