// The socket a Node request handler sees: a Duplex carrying one request to Node's HTTP server and
// its response back to the gateway's startResponse/write.
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import { Duplex, type Readable } from 'node:stream';
import { DONE } from '../gateway/driver';
import { NO_BODY } from '../gateway/no-body';
import type { AppResult, Body, Environ, StartResponse, WriteFn } from '../gateway/types';
import { HttpResponseParser, type ResponseSink } from './http-response-parser';
import { answerPlain } from './refusals';
import type { RequestHead } from './request-head';

const EMPTY = Buffer.alloc(0);

/**
 * Requests one socket carries before it is retired, as nginx's keepalive_requests bounds an upstream
 * connection: whatever an app leaves attached to `req.socket` is then let go of.
 */
const MAX_REQUESTS_PER_SOCKET = 1000;

// Hop-by-hop headers of the HTTP/1.1 exchange with Node's serializer; a CGI response carries none.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade']);

/**
 * Below Node's IncomingMessage and ServerResponse, where Express's prototype swap cannot reach:
 * the readable side delivers the request head and the framed body from `sluice.input` (pausing it
 * while Node's parser is full); the writable side parses what ServerResponse writes and hands the
 * head to startResponse and each body chunk to write(), calling back only once the front end's
 * socket took it, so ServerResponse's own 'drain' reflects the real backpressure.
 */
export class GatewaySocket extends Duplex {
  // The addresses of the request being served: set by begin(), as a front end's connection to a
  // node:http server behind it carries one client's request after another's.
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  remoteFamily: string | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
  /** As on a TLS socket: true when the front end says the client connection is HTTPS. */
  encrypted: true | undefined;
  /** The environ of the request being served; null while the socket waits in the idle pool. */
  environ: Environ | null = null;

  // Not `parser`: Node's http server sets that property on the sockets it serves. Both are null
  // while the socket waits in the idle pool.
  private responseParser: HttpResponseParser | null = null;
  private forwarder: ResponseForwarder | null = null;
  private framing: RequestHead['framing'] = 'none';
  private inputPaused = false;
  /** `sluice.input` while its bytes are being pumped in, and the listeners put on it. */
  private input: Readable | null = null;
  private onInput: ((chunk: Buffer) => void) | null = null;
  private onInputEnd: (() => void) | null = null;
  private onInputError: (() => void) | null = null;
  private inputEnded = false;
  private aborted = false;
  private requests = 0;

  constructor() {
    super({ readableHighWaterMark: 64 * 1024, writableHighWaterMark: 64 * 1024 });
  }

  /**
   * Takes a request: a new socket before Node's server sees it, or one back from the idle pool whose
   * previous exchange completed ({@link reusable}). The head is sent by {@link sendHead}.
   */
  begin(environ: Environ, startResponse: StartResponse, head: RequestHead): void {
    this.environ = environ;
    this.remoteAddress = stringVar(environ.REMOTE_ADDR);
    this.remotePort = numberVar(environ.REMOTE_PORT);
    this.remoteFamily = this.remoteAddress?.includes(':') ? 'IPv6' : this.remoteAddress && 'IPv4';
    this.localAddress = stringVar(environ.SERVER_ADDR);
    this.localPort = numberVar(environ.SERVER_PORT);
    this.encrypted = environ['sluice.url_scheme'] === 'https' ? true : undefined;
    this.forwarder = new ResponseForwarder(startResponse);
    this.responseParser = new HttpResponseParser(this.forwarder, environ.REQUEST_METHOD);
    this.framing = head.framing;
    this.inputEnded = false;
    this.requests++;
  }

  /** Hands the request head to Node's parser, then the body as `sluice.input` delivers it. */
  sendHead(head: RequestHead): void {
    if (this.destroyed) return;
    this.push(head.bytes);
    if (head.framing !== 'none') this.pumpBody(head.framing === 'chunked');
  }

  /**
   * Whether Node's server is ready for another request on this socket: the response went out whole
   * and kept the connection open (no `Connection: close`, not HTTP/1.0), and Node's parser read the
   * whole request, so the next head starts a message of its own; and the socket has not served
   * its share of requests yet.
   */
  reusable(req: IncomingMessage): boolean {
    return (
      this.requests < MAX_REQUESTS_PER_SOCKET &&
      !this.destroyed &&
      !this.aborted &&
      !this.writableEnded &&
      this.forwarder !== null &&
      this.forwarder.settled &&
      req.complete &&
      this.readableLength === 0 &&
      (this.framing === 'none' || this.inputEnded)
    );
  }

  /** Lets go of the finished request before the socket waits in the idle pool. */
  release(): void {
    this.detachInput();
    // Nothing of the request just served stays reachable from the pool: its environ holds the body
    // stream, the forwarder the gateway's response.
    this.environ = null;
    this.forwarder = null;
    this.responseParser = null;
  }

  /** The front end's timeouts govern the connection; Node's keep-alive timer has nothing to close. */
  setTimeout(_ms: number, callback?: () => void): this {
    if (callback) this.once('timeout', callback);
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  /** The front end went away: the request and response see what a closed client connection does. */
  abort(): void {
    this.aborted = true;
    this.destroy();
  }

  /**
   * What the adapted app returns: the body, or a promise of it while the response is still being
   * written; throws or rejects when it failed.
   */
  result(): AppResult {
    return this.forwarder!.result();
  }

  /** Ends the exchange with an error: a 500 while nothing was sent, an incomplete response after. */
  fail(error: unknown): void {
    this.forwarder?.settle(error);
    this.destroy();
  }

  /** Answers for the app (a request Node's parser refused): a short plain response, if still possible. */
  answer(code: number): void {
    this.forwarder?.answer(code);
    this.destroy();
  }

  override _read(): void {
    if (this.inputPaused) {
      this.inputPaused = false;
      this.input?.resume();
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      this.responseParser!.push(chunk);
    } catch (error) {
      this.fail(error);
      callback(error as Error);
      return;
    }
    this.afterWrites(callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    try {
      for (const { chunk } of chunks) this.responseParser!.push(chunk);
    } catch (error) {
      this.fail(error);
      callback(error as Error);
      return;
    }
    this.afterWrites(callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    try {
      this.responseParser!.end();
    } catch (error) {
      this.fail(error);
    }
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.detachInput();
    // An idle socket has no request left to settle.
    const forwarder = this.forwarder;
    if (forwarder !== null && !forwarder.settled) {
      if (this.aborted) forwarder.settle(undefined, NO_BODY);
      else {
        // A body delimited by the close is complete now; any other is cut short.
        try {
          this.responseParser!.end();
        } catch (incomplete) {
          forwarder.settle(error ?? incomplete);
        }
      }
    }
    callback(error);
  }

  private afterWrites(callback: (error?: Error | null) => void): void {
    const waiting = this.forwarder!.flush();
    if (waiting === undefined) return callback();
    waiting.then(
      () => callback(),
      (error: Error) => callback(error),
    );
  }

  /** Feeds `sluice.input` into the readable side, chunk-framed when its length is unknown. */
  private pumpBody(chunked: boolean): void {
    const input = this.environ!['sluice.input'];
    this.input = input;
    this.onInput = chunked
      ? (chunk: Buffer) => {
          this.push(chunk.length.toString(16) + '\r\n');
          this.push(chunk);
          this.pauseInputUnless(this.push('\r\n'));
        }
      : (chunk: Buffer) => this.pauseInputUnless(this.push(chunk));
    this.onInputEnd = () => {
      this.inputEnded = true;
      if (chunked) this.push('0\r\n\r\n');
    };
    // A body that cannot complete (truncated, connection closed): Node's parser sees the request
    // aborted, as with a client that went away.
    this.onInputError = () => this.destroy();
    input.on('data', this.onInput);
    input.once('end', this.onInputEnd);
    input.once('error', this.onInputError);
  }

  /** Stops listening to `sluice.input`: its request is over, or the socket is. */
  private detachInput(): void {
    const input = this.input;
    if (input === null) return;
    this.input = null;
    input.off('data', this.onInput!);
    input.off('end', this.onInputEnd!);
    input.off('error', this.onInputError!);
    // An error after the socket stopped listening must not become an uncaught exception.
    if (!this.inputEnded && input.listenerCount('error') === 0) input.on('error', ignore);
    this.onInput = this.onInputEnd = this.onInputError = null;
    this.inputPaused = false;
  }

  private pauseInputUnless(flowing: boolean): void {
    if (flowing || this.inputPaused) return;
    this.inputPaused = true;
    this.input?.pause();
  }
}

/**
 * Hands the response the parser reads to startResponse and write(), and settles what the app
 * returns. One object per request rather than a closure per event.
 */
class ResponseForwarder implements ResponseSink {
  /** The gateway's write(), once the head went to startResponse. */
  private send: WriteFn | null = null;
  /** The last write() not yet taken by the front end's socket. */
  private waiting: Promise<void> | undefined = undefined;
  /** A head was parsed and no body followed it in the same write: flushHeaders() or writeHead(). */
  private headOnly = false;
  private done = false;
  private outcome: Body | undefined = undefined;
  private error: unknown = undefined;
  private resolve: ((body: Body) => void) | null = null;
  private reject: ((error: unknown) => void) | null = null;

  constructor(private readonly startResponse: StartResponse) {}

  get settled(): boolean {
    return this.done;
  }

  head(code: number, reason: string, headers: Array<[string, string]>): void {
    const kept: Array<[string, string]> = [];
    for (const header of headers) if (!isHopByHop(header[0])) kept.push(header);
    this.send = this.startResponse(`${code} ${reason || STATUS_CODES[code] || 'Unknown'}`, kept);
    this.headOnly = true;
  }

  body(chunk: Buffer): void {
    this.headOnly = false;
    this.sent(this.send!(chunk));
  }

  end(): void {
    this.headOnly = false;
    const waiting = this.waiting;
    if (waiting === undefined) this.settle(undefined, NO_BODY);
    else
      waiting.then(
        () => this.settle(undefined, NO_BODY),
        (error: unknown) => this.settle(error),
      );
  }

  /** After the bytes of one socket write were parsed: what to wait for before taking more. */
  flush(): Promise<void> | undefined {
    if (this.headOnly) {
      this.headOnly = false;
      // An empty write sends the head at once, as a real socket would have.
      this.sent(this.send!(EMPTY));
    }
    const waiting = this.waiting;
    this.waiting = undefined;
    return waiting;
  }

  /**
   * Remembers what to wait for before Node may write more: nothing when the front end's socket took
   * the bytes at once (write() returned the driver's settled DONE), so the write callback, and with
   * it ServerResponse's 'finish', follow without a microtask per write; else the pending write (the
   * front end's socket takes writes in order, so the latest covers the earlier ones).
   */
  private sent(written: Promise<void>): void {
    if (written !== DONE) this.waiting = written;
  }

  /** A short plain response in the app's place, unless its own response has begun. */
  answer(code: number): void {
    if (this.send === null && !this.done) this.settle(undefined, answerPlain(this.startResponse, code));
  }

  settle(error: unknown, body?: Body): void {
    if (this.done) return;
    this.done = true;
    this.outcome = body;
    this.error = error;
    if (body === undefined) this.reject?.(error);
    else this.resolve?.(body);
  }

  result(): AppResult {
    if (this.done) {
      if (this.outcome === undefined) throw this.error;
      return this.outcome;
    }
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

/** The hop-by-hop headers of Node's HTTP/1.1 output, compared without allocating for the others. */
function isHopByHop(name: string): boolean {
  switch (name.length) {
    case 7:
    case 10:
    case 16:
    case 17:
      return HOP_BY_HOP.has(name.toLowerCase());
    default:
      return false;
  }
}

function ignore(): void {}

function stringVar(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function numberVar(value: unknown): number | undefined {
  return typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : undefined;
}
