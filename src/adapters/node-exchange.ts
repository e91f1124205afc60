// One request through a Node listener: Node's own IncomingMessage built from the environ and fed
// from `sluice.input`, and Node's own ServerResponse whose head and body go to startResponse and
// write() as values, before Node would serialize them as HTTP.
import { IncomingMessage, ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { GatewayError } from '../errors';
import { DONE } from '../gateway/driver';
import { NO_BODY } from '../gateway/no-body';
import { bodyAllowed } from '../gateway/response-head';
import type { AppResult, Body, Environ, StartResponse, WriteFn } from '../gateway/types';
import type { GatewaySocket, SocketPool, SocketUser } from './gateway-socket';
import { requestTarget, type RequestHead } from './request-headers';

const EMPTY = Buffer.alloc(0);

/** Bytes handed to write() and not yet taken by the front end's socket before res.write() says wait. */
const HIGH_WATER_MARK = 64 * 1024;

const EXCHANGE = Symbol('sluice.nodeExchange');

type Callback = (error?: Error | null) => void;

/**
 * The Node internals the adapter relies on, where no public API does the same. Each is pinned by
 * test/adapters/node-internals.test.ts, which fails on a Node release that changes it.
 */
interface ResponseInternals {
  /** Every byte of the message after its head goes through it (write_(), end(), flushHeaders()). */
  _send(
    data: string | Uint8Array,
    encoding: BufferEncoding | null | undefined,
    callback: Callback | null,
  ): boolean;
  /** The length end(chunk) found before the head went out: Node then adds a Content-Length. */
  _contentLength: number | null;
  /** removeHeader('Content-Length') was called: Node then adds none. */
  _removedContLen: boolean;
  /** What `res.closed` reports. */
  _closed: boolean;
  /** Node frames the body it writes in chunks when this is true. */
  chunkedEncoding: boolean;
  useChunkedEncodingByDefault: boolean;
}

interface RequestInternals {
  /** How Node's parser gives an IncomingMessage its headers (lazy `headers`, `headersDistinct`). */
  _addHeaderLines(headers: string[], count: number): void;
}

type HookedResponse = ServerResponse &
  ResponseInternals & {
    [EXCHANGE]: NodeExchange;
    /** Public since Node 15.13; missing from the typings. */
    getRawHeaderNames(): string[];
  };
type HookedRequest = IncomingMessage & RequestInternals & { [EXCHANGE]: NodeExchange; environ?: Environ };

/**
 * The symbol behind `res.writableNeedDrain`: Node's server clears it before it emits 'drain', and so
 * must the adapter, or a stream piped into the response later would wait for a 'drain' that never
 * comes. Found once, by its description.
 */
const kNeedDrain = Object.getOwnPropertySymbols(
  new ServerResponse({
    method: 'GET',
    httpVersionMajor: 1,
    httpVersionMinor: 1,
    headers: {},
  } as IncomingMessage),
).find((symbol) => symbol.description === 'kNeedDrain');

// As Node's `Connection` check (RE_CONN_CLOSE in _http_outgoing.js).
const CONNECTION_CLOSE = /(?:^|\W)close(?:$|\W)/i;

/**
 * One request and its response. The ServerResponse keeps all of Node's behaviour (headers API,
 * validation, HEAD, 204 and 304, write callbacks, 'finish', errors); three own properties, which
 * survive Express's prototype swap, take its output instead of its socket:
 *
 * - `writeHead` merges the headers it is given into the response's own (as Node does once setHeader
 *   was called), so that all of them can be read back through getHeaders(), and turns Node's chunked
 *   framing off: the front end frames the body;
 * - `end` marks the empty write that ends the response;
 * - `_send` receives the body where Node would prepend the serialized head and write to the socket.
 */
export class NodeExchange implements SocketUser {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Set by the `end` hook while res.end() runs: its empty write ends the response. */
  ending = false;
  /** The gateway's write(), once the head went to startResponse. */
  private send: WriteFn | null = null;
  private headForwarded = false;
  /** Body bytes the response's Content-Length still allows (-1: no length to count down). */
  private remaining = -1;
  /** res.end() handed over its last write. */
  private finished = false;
  /** The socket went away under this request (abort, failure, res.destroy()). */
  private closed = false;
  private aborted = false;
  /** The response asked for the connection to close: the socket is not used again. */
  private closeConnection = false;
  /** The last write() not yet taken by the front end's socket, the bytes since, and who waits. */
  private waiting: Promise<void> | null = null;
  private waitingBytes = 0;
  private callbacks: Callback[] | null = null;
  private finishCallback: Callback | null = null;
  /** `sluice.input` while its bytes are being pushed into the request. */
  private input: Readable | null = null;
  private inputPaused = false;
  private onInput: ((chunk: Buffer) => void) | null = null;
  private onInputEnd: (() => void) | null = null;
  private onInputError: ((error: Error) => void) | null = null;
  // What the adapted app returns.
  private done = false;
  private outcome: Body | undefined = undefined;
  private error: unknown = undefined;
  private resolve: ((body: Body) => void) | null = null;
  private reject: ((error: unknown) => void) | null = null;

  constructor(
    readonly environ: Environ,
    private readonly startResponse: StartResponse,
    head: RequestHead,
    private readonly socket: GatewaySocket,
    private readonly pool: SocketPool,
  ) {
    socket.begin(environ, this);
    const req = new IncomingMessage(socket as unknown as Socket) as HookedRequest;
    const protocol = environ.SERVER_PROTOCOL;
    req.method = environ.REQUEST_METHOD;
    req.url = requestTarget(environ.REQUEST_URI ?? '/');
    // What a node:http server behind a front end sees first: HTTP/1.0 or 1.1. The ServerResponse
    // takes its framing and keep-alive defaults from it, before the version the client spoke is set.
    req.httpVersionMajor = 1;
    req.httpVersionMinor = protocol === 'HTTP/1.0' ? 0 : 1;
    req.httpVersion = protocol === 'HTTP/1.0' ? '1.0' : '1.1';
    req._addHeaderLines(head.rawHeaders, head.rawHeaders.length);
    // Own properties: Express replaces the prototype of req and res, never their own properties.
    req.environ = environ;
    req[EXCHANGE] = this;
    req._read = readBody;
    const res = new ServerResponse(req) as unknown as HookedResponse;
    setHttpVersion(req, protocol);
    res[EXCHANGE] = this;
    const hooks = res as unknown as Record<'writeHead' | 'end' | '_send', unknown>;
    hooks.writeHead = writeHead;
    hooks.end = end;
    hooks._send = sendBody;
    res.assignSocket(socket as unknown as Socket);
    this.req = req;
    this.res = res;
    if (head.framing === 'none') {
      req.complete = true;
      req.push(null);
    } else this.pumpBody(environ['sluice.input']);
  }

  /**
   * What the adapted app returns: the body, or a promise of it while the response is still being
   * written; throws or rejects when it failed.
   */
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

  /** The front end went away: the request and response see what a closed client connection does. */
  abort(): void {
    if (this.socket.user !== this) return;
    this.aborted = true;
    this.settle(undefined, NO_BODY);
    this.socket.destroy();
  }

  /** Ends the exchange with an error: a 500 while nothing was sent, an incomplete response after. */
  fail(error: unknown): void {
    if (this.done && this.socket.user !== this) {
      this.environ['sluice.log'].error({ err: error }, 'the listener failed after its response was complete');
      return;
    }
    this.settle(error);
    if (this.socket.user === this) this.socket.destroy();
  }

  /** The socket was destroyed while it carried this request: by abort(), fail(), or the app. */
  socketDestroyed(error: Error | null): void {
    this.closed = true;
    this.detachInput();
    // Every byte was handed over already when res.end() had run: the response is complete.
    if (this.finished) this.settle(undefined, NO_BODY);
    else this.settle(error ?? badResponse('the response was destroyed before it was complete'));
    // As Node's server on a closed connection: 'aborted' unless the body was read, then 'close'.
    if (!this.req.destroyed) this.req.destroy(connectionReset());
  }

  /** ServerResponse's `_send`: a body chunk, an empty write that sends the head, or the end. */
  output(
    data: string | Uint8Array,
    encoding: BufferEncoding | null | undefined,
    callback: Callback | null,
  ): boolean {
    // As a ServerResponse on a destroyed socket: nothing more is written, no callback runs.
    if (this.closed) return false;
    const final = this.ending && callback !== null && data.length === 0;
    if (!this.headForwarded && !this.done && !this.forwardHead(final)) {
      if (this.closed) return false;
      if (callback !== null) process.nextTick(callback);
      return true;
    }
    if (final) {
      this.finished = true;
      if (this.waiting === null) {
        this.settle(undefined, NO_BODY);
        process.nextTick(finishExchange, this, callback);
      } else this.finishCallback = callback;
      return true;
    }
    if (!this.done) {
      if (data.length === 0) this.track(this.send!(EMPTY), 0);
      else {
        let chunk = typeof data === 'string' ? Buffer.from(data, encoding ?? 'utf8') : toBuffer(data);
        if (this.remaining >= 0) {
          if (chunk.length > this.remaining) chunk = chunk.subarray(0, this.remaining);
          this.remaining -= chunk.length;
        }
        if (chunk.length > 0) this.track(this.send!(chunk), chunk.length);
        // As the bytes a Content-Length announced went out, the response is complete.
        if (this.remaining === 0) this.whenWritten();
      }
    }
    if (callback !== null) {
      if (this.waiting === null) process.nextTick(callback);
      else (this.callbacks ??= []).push(callback);
    }
    return this.waitingBytes < HIGH_WATER_MARK;
  }

  /** Called by `res.end()`'s write callback: 'finish', then the socket is free for the next request. */
  complete(callback: Callback): void {
    if (this.closed) return;
    callback();
    const res = this.res;
    if (res.socket === (this.socket as unknown)) res.detachSocket(this.socket as unknown as Socket);
    process.nextTick(afterFinish, this);
  }

  /** After 'finish': res 'close', the unread body drained, the socket back to the pool or retired. */
  release(): void {
    const res = this.res as HookedResponse;
    if (!res._closed) {
      res.destroyed = true;
      res._closed = true;
      res.emit('close');
    }
    // As Node's server: a body nobody reads is read to its end, so the request completes.
    if (this.req.readableFlowing === null) this.req.resume();
    const socket = this.socket;
    if (socket.user !== this) return;
    if (this.closeConnection || this.closed) socket.destroy();
    else this.pool.release(socket);
  }

  resumeInput(): void {
    if (this.inputPaused) {
      this.inputPaused = false;
      this.input?.resume();
    }
  }

  /**
   * Hands the head to startResponse: the response's status, its headers as getHeaders() holds them
   * without the hop-by-hop ones, and what Node's _storeHeader adds (Date; a Content-Length when
   * end(chunk) came before the head). False when no final head is there yet (an interim 1xx).
   */
  private forwardHead(final: boolean): boolean {
    const res = this.res as HookedResponse;
    const code = res.statusCode;
    // writeHead(100) (or 102, 103) writes what writeContinue() does: no final head follows.
    if (code === 100 || code === 102 || code === 103) {
      if (final) {
        this.fail(badResponse(`response ended after an interim ${code} head, before the final head`));
      }
      return false;
    }
    this.headForwarded = true;
    const withBody = bodyAllowed(this.environ.REQUEST_METHOD, code);
    const values = res.getHeaders();
    const headers: Array<[string, string]> = [];
    let date = false;
    let trailer = false;
    let chunked = false;
    let length: string | undefined;
    for (const name of res.getRawHeaderNames()) {
      const key = name.toLowerCase();
      const value = values[key];
      if (value === undefined) continue;
      switch (key) {
        // Hop-by-hop: the front end frames the response and owns the client connection.
        case 'connection':
          if (CONNECTION_CLOSE.test(String(value))) this.closeConnection = true;
          continue;
        case 'transfer-encoding':
          chunked = true;
          continue;
        case 'keep-alive':
        case 'proxy-connection':
        case 'upgrade':
          continue;
        case 'date':
          date = true;
          break;
        case 'trailer':
          trailer = true;
          break;
        case 'content-length':
          length = headerValue(Array.isArray(value) ? value[value.length - 1] : value);
          break;
      }
      if (!Array.isArray(value)) headers.push([name, headerValue(value)]);
      // As Node writes an array: a line per value, except for Cookie.
      else if (key === 'cookie' && value.length > 1) headers.push([name, value.join('; ')]);
      else for (const item of value) headers.push([name, headerValue(item)]);
    }
    if (res.sendDate && !date) headers.push(['Date', httpDate()]);
    if (
      length === undefined &&
      !chunked &&
      !trailer &&
      withBody &&
      res.useChunkedEncodingByDefault &&
      !res._removedContLen &&
      typeof res._contentLength === 'number'
    ) {
      length = String(res._contentLength);
      headers.push(['Content-Length', length]);
    }
    if (!res.shouldKeepAlive) this.closeConnection = true;
    try {
      this.send = this.startResponse(
        `${code} ${res.statusMessage || STATUS_CODES[code] || 'Unknown'}`,
        headers,
      );
    } catch (error) {
      this.fail(error);
      return false;
    }
    if (withBody && length !== undefined && /^\d+$/.test(length)) this.remaining = Number(length);
    // No body may follow (HEAD, 204, 304, a zero length): the response is complete with its head.
    if (!withBody || this.remaining === 0) this.settle(undefined, NO_BODY);
    return true;
  }

  /**
   * Remembers what to wait for before Node may write more: nothing when the front end's socket took
   * the bytes at once (write() returned the driver's settled DONE), so callbacks and 'finish' follow
   * without a microtask per write; else the pending write (the front end's socket takes writes in
   * order, so the latest covers the earlier ones).
   */
  private track(written: Promise<void>, bytes: number): void {
    if (written === DONE) return;
    this.waiting = written;
    this.waitingBytes += bytes;
    written.then(
      () => this.drained(written),
      (error: unknown) => {
        if (!this.aborted) this.fail(error);
      },
    );
  }

  private drained(written: Promise<void>): void {
    if (this.waiting !== written || this.closed) return;
    this.waiting = null;
    this.waitingBytes = 0;
    const callbacks = this.callbacks;
    this.callbacks = null;
    if (callbacks !== null) for (const callback of callbacks) callback();
    const finish = this.finishCallback;
    if (finish !== null) {
      this.finishCallback = null;
      this.settle(undefined, NO_BODY);
      this.complete(finish);
      return;
    }
    if (this.remaining === 0) this.settle(undefined, NO_BODY);
    const res = this.res as HookedResponse & Record<symbol, unknown>;
    if (res.writableNeedDrain) {
      if (kNeedDrain !== undefined) res[kNeedDrain] = false;
      res.emit('drain');
    }
  }

  /** The Content-Length's bytes are out: complete once the front end's socket took them (else drained()). */
  private whenWritten(): void {
    if (this.waiting === null) this.settle(undefined, NO_BODY);
  }

  /** Pushes `sluice.input` into the request, pausing it while the request's buffer is full. */
  private pumpBody(input: Readable): void {
    const req = this.req;
    this.input = input;
    this.onInput = (chunk: Buffer) => {
      if (!req.push(chunk) && !this.inputPaused) {
        this.inputPaused = true;
        input.pause();
      }
    };
    this.onInputEnd = () => {
      this.detachInput();
      req.complete = true;
      req.push(null);
    };
    // A body that cannot complete (truncated, connection closed): the request is aborted, as when
    // a client goes away.
    this.onInputError = (error: Error) => {
      this.detachInput();
      this.fail(error);
    };
    input.on('data', this.onInput);
    input.once('end', this.onInputEnd);
    input.once('error', this.onInputError);
  }

  /** Stops listening to `sluice.input`: its body ended, or the request is over. */
  private detachInput(): void {
    const input = this.input;
    if (input === null) return;
    this.input = null;
    input.off('data', this.onInput!);
    input.off('end', this.onInputEnd!);
    input.off('error', this.onInputError!);
    // An error after the adapter stopped listening must not become an uncaught exception.
    if (!input.readableEnded && input.listenerCount('error') === 0) input.on('error', ignore);
    this.onInput = this.onInputEnd = this.onInputError = null;
    if (this.inputPaused) {
      this.inputPaused = false;
      input.resume();
    }
  }

  private settle(error: unknown, body?: Body): void {
    if (this.done) return;
    this.done = true;
    this.outcome = body;
    this.error = error;
    if (body === undefined) this.reject?.(error);
    else this.resolve?.(body);
  }
}

/** `res.writeHead`, as an own property of each response. */
function writeHead(this: HookedResponse, code: number, reason?: unknown, headers?: unknown): ServerResponse {
  if (typeof reason !== 'string') {
    headers ??= reason;
    reason = undefined;
  }
  // Headers given here join those set before, so getHeaders() holds every one (as in node:http once
  // setHeader was called). An odd flat list goes to Node as it is, which refuses it.
  if (headers != null && typeof headers === 'object' && !this.headersSent && mergeable(headers)) {
    mergeHeaders(this, headers);
    headers = undefined;
  }
  const proto = Object.getPrototypeOf(this) as { writeHead: (...args: unknown[]) => ServerResponse };
  proto.writeHead.call(this, code, reason, headers);
  // The front end frames the body: Node is not to chunk it (and writes no trailers).
  this.chunkedEncoding = false;
  return this;
}

/** `res.end`, as an own property of each response: marks the write that ends the response. */
function end(this: HookedResponse, ...args: unknown[]): ServerResponse {
  const exchange = this[EXCHANGE];
  const proto = Object.getPrototypeOf(this) as { end: (...args: unknown[]) => ServerResponse };
  exchange.ending = true;
  try {
    return proto.end.apply(this, args);
  } finally {
    exchange.ending = false;
  }
}

/** `res._send`, as an own property of each response. */
function sendBody(
  this: HookedResponse,
  data: string | Uint8Array,
  encoding: BufferEncoding | null | undefined,
  callback: Callback | null,
): boolean {
  return this[EXCHANGE].output(data, encoding, callback ?? null);
}

/** `req._read`, as an own property of each request: Node's own, then more of `sluice.input`. */
function readBody(this: HookedRequest, size: number): void {
  IncomingMessage.prototype._read.call(this, size);
  this[EXCHANGE].resumeInput();
}

function finishExchange(exchange: NodeExchange, callback: Callback): void {
  exchange.complete(callback);
}

function afterFinish(exchange: NodeExchange): void {
  exchange.release();
}

function mergeable(headers: object): boolean {
  return !Array.isArray(headers) || headers.length % 2 === 0 || Array.isArray(headers[0]);
}

function mergeHeaders(res: ServerResponse, headers: object): void {
  if (!Array.isArray(headers)) {
    const record = headers as Record<string, string | number | readonly string[]>;
    for (const name of Object.keys(record)) if (name) res.setHeader(name, record[name]);
    return;
  }
  const pairs: Array<[string, string | readonly string[]]> = [];
  if (Array.isArray(headers[0])) {
    for (const [name, value] of headers as Array<[string, string]>) pairs.push([name, value]);
  } else
    for (let i = 0; i < headers.length; i += 2) pairs.push([headers[i] as string, headers[i + 1] as string]);
  // As writeHead does with a list: set one by one when headers were set before (a name given twice
  // keeps its last value), else written as listed, repeats included.
  if (res.getHeaderNames().length > 0) {
    for (const [name, value] of pairs) if (name) res.setHeader(name, value);
    return;
  }
  for (const [name, value] of pairs) if (name) res.appendHeader(name, value);
}

/** Node's parser only reads HTTP/1.x; the request carries what the client really spoke (HTTP/2.0, …). */
function setHttpVersion(req: IncomingMessage, protocol: string): void {
  if (protocol === 'HTTP/1.1' || protocol === 'HTTP/1.0') return;
  const version = /^HTTP\/(\d)\.(\d)$/.exec(protocol);
  if (version === null) return;
  req.httpVersion = `${version[1]}.${version[2]}`;
  req.httpVersionMajor = Number(version[1]);
  req.httpVersionMinor = Number(version[2]);
}

/** A value as it would have been parsed back from the serialized head: text, without surrounding blanks. */
function headerValue(value: unknown): string {
  const text = String(value);
  const last = text.length - 1;
  return last >= 0 && (text.charCodeAt(0) <= 32 || text.charCodeAt(last) <= 32) ? text.trim() : text;
}

let dateSecond = -1;
let dateText = '';

/** The Date header Node's _storeHeader adds, computed once a second as Node does. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

function toBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** What Node's server destroys a request with when its connection closes. */
function connectionReset(): Error {
  return Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
}

function badResponse(message: string): GatewayError {
  return new GatewayError('ERR_ADAPTER_BAD_RESPONSE', message);
}

function ignore(): void {}
