// Incremental FastCGI record parser: web server bytes in, per-request events out through a typed sink; no sockets.

import { DEFAULTS } from '../settings/options';
import {
  FCGI_ABORT_REQUEST,
  FCGI_BEGIN_REQUEST,
  FCGI_BEGIN_REQUEST_BODY_LEN,
  FCGI_DATA,
  FCGI_GET_VALUES,
  FCGI_GET_VALUES_RESULT,
  FCGI_HEADER_LEN,
  FCGI_KEEP_CONN,
  FCGI_NULL_REQUEST_ID,
  FCGI_PARAMS,
  FCGI_STDIN,
  FCGI_UNKNOWN_TYPE,
  FCGI_VERSION_1,
  recordTypeName,
} from './constants';
import { FastCgiProtocolError, type FastCgiErrorCode } from './errors';
import { decodePairList, type PairList } from './pairs';
import { RequestTable } from './request-table';

/**
 * Receives what {@link RecordParser} reads. Calls are synchronous, in wire order, from inside
 * `push()`/`end()`; a sink may call `requestDone()` (and `push()`) from inside them.
 * After `error(err)` with `err.requestId` set, nothing more is reported for that id until it is reused.
 */
export interface RecordSink {
  /** BEGIN_REQUEST made `requestId` active (spec §5.1). `role` is any 16-bit number: check it. */
  beginRequest(requestId: number, role: number, keepConn: boolean): void;
  /**
   * A BEGIN_REQUEST beyond `maxConnRequests`: the id did not become active, and its later
   * records are ignored. Answer END_REQUEST with FCGI_OVERLOADED (or FCGI_CANT_MPX_CONN) (spec §5.5).
   */
  overloaded(requestId: number, role: number, keepConn: boolean): void;
  /** The empty PARAMS record ended the stream: every pair, decoded, names at even indexes (spec §5.2). */
  params(requestId: number, pairs: PairList): void;
  /**
   * STDIN bytes (spec §5.3), never empty: a view into the pushed chunk, not a copy. Holding it keeps
   * that whole chunk alive; the parser itself never reads or changes it again.
   */
  stdin(requestId: number, chunk: Buffer): void;
  /** The empty STDIN record ended the request body. */
  stdinEnd(requestId: number): void;
  /** DATA bytes for the Filter role (spec §6.4), as for `stdin`. */
  data(requestId: number, chunk: Buffer): void;
  /** The empty DATA record ended the Filter's data stream. */
  dataEnd(requestId: number): void;
  /** ABORT_REQUEST: answer END_REQUEST promptly (spec §5.4). No further input is reported for the id. */
  abortRequest(requestId: number): void;
  /** GET_VALUES on the null id: the names asked for (spec §4.1). Answer GET_VALUES_RESULT with the known ones. */
  getValues(names: string[]): void;
  /** A management record of a type we do not understand: answer UNKNOWN_TYPE with `type` (spec §4.2). */
  unknownType(type: number): void;
  /** A protocol error. `err.fatal`: close the connection (the parser has stopped); else end `err.requestId`. */
  error(err: FastCgiProtocolError): void;
}

/** Limits the parser enforces before buffering; defaults from the settings table. */
export interface RecordParserOptions {
  /** Total PARAMS content bytes one request may send (limits.maxParamsBytes). */
  maxParamsBytes?: number;
  /** Requests active at once on the connection (limits.maxConnRequests). */
  maxConnRequests?: number;
}

// Parser states: what the bytes at the head of the queue are.
const S_HEADER = 0; // an 8-byte record header
const S_CONTENT = 1; // content needed whole before acting (BEGIN_REQUEST, PARAMS, GET_VALUES)
const S_STREAM = 2; // STDIN or DATA content, passed on piece by piece as it arrives
const S_DISCARD = 3; // content nobody needs (ignored records, ABORT_REQUEST, unknown types)
const S_PADDING = 4; // padding after the content

// What completing the current record's content means.
const R_IGNORE = 0;
const R_BEGIN = 1;
const R_PARAMS = 2;
const R_GET_VALUES = 3;
const R_ABORT = 4;
const R_UNKNOWN = 5;
const R_STDIN = 6;
const R_DATA = 7;

// Request phases, from BEGIN_REQUEST until requestDone().
const P_PARAMS = 0; // PARAMS stream open
const P_BODY = 1; // PARAMS ended; STDIN and DATA open
const P_CLOSED = 2; // aborted or failed: input ignored until requestDone()
const P_DONE = 3; // requestDone() called; the state object is detached

class RequestState {
  phase = P_PARAMS;
  stdinEnded = false;
  dataEnded = false;
  /** PARAMS content received so far, checked against maxParamsBytes before each record is buffered. */
  paramsBytes = 0;
  params: Buffer[] = [];
}

const EMPTY = Buffer.alloc(0);

function isLetter(byte: number): boolean {
  return (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
}

function isDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

/** What a first header that is not FastCGI seems to be, from its 8 bytes; undefined when nothing fits. */
function guessProtocol(buf: Buffer, at: number): string | undefined {
  // An HTTP request line starts with a method of letters ("GET /", "POST", "PRI * HTTP/2.0").
  if (isLetter(buf[at]) && isLetter(buf[at + 1]) && isLetter(buf[at + 2])) {
    const fourth = buf[at + 3];
    if (isLetter(fourth) || fourth === 0x20) return 'HTTP';
  }
  // An SCGI request starts with its netstring length: up to 7 digits, then a colon.
  if (isDigit(buf[at])) {
    let k = 1;
    while (k < FCGI_HEADER_LEN && isDigit(buf[at + k])) k++;
    if (k < FCGI_HEADER_LEN && buf[at + k] === 0x3a) return 'SCGI';
  }
  // A TLS handshake record: content type 22, version 3.x.
  if (buf[at] === 0x16 && buf[at + 1] === 0x03) return 'TLS';
  return undefined;
}

function checkLimit(name: string, value: number, min: number): number {
  if (!(value >= min)) throw new RangeError(`${name} must be at least ${min}: ${value}`);
  return value;
}

/**
 * Parses the records a web server sends to an application (spec §3–6), incrementally: push chunks as
 * they arrive; each step returns early when bytes are missing. Keeps the state of every request id so
 * it can ignore records for inactive ids (spec §3.3), refuse a duplicate BEGIN_REQUEST, buffer PARAMS
 * until the empty record (pairs may straddle records) and enforce its limits before buffering.
 *
 * STDIN and DATA bytes are delivered as views into the pushed chunks, as soon as they arrive, never
 * copied. Only record content needed whole (PARAMS, BEGIN_REQUEST, GET_VALUES) that spans chunks is
 * copied, so at most one record's content (65535 bytes) plus one header sits in the queue.
 */
export class RecordParser {
  readonly maxParamsBytes: number;
  readonly maxConnRequests: number;

  private readonly sink: RecordSink;
  private readonly requests = new RequestTable<RequestState>();

  // The chunk queue: unread bytes start at `offset` in chunks[0]; `queued` counts them all.
  private chunks: Buffer[] = [];
  private offset = 0;
  private queued = 0;
  private readonly scratch = Buffer.alloc(FCGI_HEADER_LEN);

  // The record being read.
  private state = S_HEADER;
  private onComplete = R_IGNORE;
  private type = 0;
  private requestId = 0;
  private contentLeft = 0;
  private paddingLeft = 0;
  private current: RequestState | undefined = undefined;

  private firstHeader = true;
  private running = false;
  private ended = false;
  private failed = false;
  private paramsBuffered = 0;
  private peak = 0;

  constructor(sink: RecordSink, options: RecordParserOptions = {}) {
    this.sink = sink;
    this.maxParamsBytes = checkLimit('maxParamsBytes', options.maxParamsBytes ?? DEFAULTS.maxParamsBytes, 0);
    this.maxConnRequests = checkLimit(
      'maxConnRequests',
      options.maxConnRequests ?? DEFAULTS.maxConnRequests,
      1,
    );
  }

  /** True once a fatal error was reported; every later push is ignored. */
  get errored(): boolean {
    return this.failed;
  }

  /** Bytes held now: unread chunk bytes plus buffered PARAMS content of open requests. */
  get bufferedBytes(): number {
    return this.queued + this.paramsBuffered;
  }

  /**
   * The most {@link bufferedBytes} the parser ever kept between calls. A chunk held only while push()
   * runs is not counted: the caller owns it for that long anyway. Never above
   * `maxConnRequests × maxParamsBytes` plus the one record read whole at a time: a header, or
   * a GET_VALUES of at most 65535 bytes (asserted by test/fuzz).
   */
  get highWaterMark(): number {
    return this.peak;
  }

  /** Request ids active now: begun and not yet passed to {@link requestDone}. */
  get activeRequests(): number {
    return this.requests.size;
  }

  /** Whether `requestId` is active: BEGIN_REQUEST seen, requestDone() not yet called (spec §3.3). */
  isActive(requestId: number): boolean {
    return this.requests.get(requestId) !== undefined;
  }

  /** Feeds bytes from the web server. Events for every complete part are reported before it returns. */
  push(chunk: Buffer): void {
    if (this.failed || this.ended || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.queued += chunk.length;
    this.run();
  }

  /** The web server closed its side: an unfinished record is ERR_FCGI_TRUNCATED. */
  end(): void {
    if (this.failed || this.ended) return;
    this.ended = true;
    this.run();
  }

  /**
   * The application sent END_REQUEST for `requestId`: the id is inactive from now on and may begin
   * again (spec §3.3). Its buffered PARAMS are dropped and its remaining input is ignored.
   */
  requestDone(requestId: number): void {
    const req = this.requests.get(requestId);
    if (req === undefined) return;
    this.releaseParams(req);
    req.phase = P_DONE;
    this.requests.delete(requestId);
  }

  private run(): void {
    // A sink that pushes or ends from inside a callback only queues; the running loop picks it up.
    if (this.running) return;
    this.running = true;
    try {
      while (!this.failed && this.step()) {
        // each step consumed something or changed state
      }
    } finally {
      this.running = false;
    }
    // Whatever is still held now waits for the next push: the only buffering worth measuring.
    const held = this.queued + this.paramsBuffered;
    if (held > this.peak) this.peak = held;
    if (this.ended && !this.failed && (this.queued !== 0 || this.state !== S_HEADER)) {
      this.fail('ERR_FCGI_TRUNCATED', 'connection closed in the middle of a record');
    }
  }

  /** One step of the state machine; false when it needs bytes that have not arrived. */
  private step(): boolean {
    switch (this.state) {
      case S_HEADER:
        return this.readHeader();
      case S_CONTENT:
        return this.readContent();
      case S_STREAM:
        return this.readStream();
      case S_DISCARD:
        return this.discardContent();
      default:
        return this.skipPadding();
    }
  }

  // ---- the chunk queue

  /** Drops `n` bytes from the head of chunks[0], which holds at least that many. */
  private advance(n: number): void {
    this.offset += n;
    this.queued -= n;
    if (this.offset === this.chunks[0].length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }

  /**
   * The next `n` queued bytes (n <= queued): a view when they sit in one chunk, a copy only when they
   * span chunks.
   */
  private consume(n: number): Buffer {
    const first = this.chunks[0];
    const start = this.offset;
    if (first.length - start >= n) {
      this.advance(n);
      return start === 0 && n === first.length ? first : first.subarray(start, start + n);
    }
    return this.copyOut(Buffer.allocUnsafe(n), n);
  }

  /** Copies the next `n` queued bytes into `target` across chunk boundaries. */
  private copyOut(target: Buffer, n: number): Buffer {
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0];
      const take = Math.min(chunk.length - this.offset, n - filled);
      chunk.copy(target, filled, this.offset, this.offset + take);
      filled += take;
      this.advance(take);
    }
    return target;
  }

  /** Drops up to `n` queued bytes without looking at them; returns how many. */
  private skip(n: number): number {
    let skipped = 0;
    while (skipped < n && this.queued !== 0) {
      const take = Math.min(this.chunks[0].length - this.offset, n - skipped);
      this.advance(take);
      skipped += take;
    }
    return skipped;
  }

  // ---- states

  private readHeader(): boolean {
    if (this.queued < FCGI_HEADER_LEN) return false;
    let buf = this.chunks[0];
    let at = this.offset;
    if (buf.length - at >= FCGI_HEADER_LEN) {
      this.advance(FCGI_HEADER_LEN);
    } else {
      buf = this.copyOut(this.scratch, FCGI_HEADER_LEN);
      at = 0;
    }
    // Header layout (spec §3.3): version, type, requestId BE16, contentLength BE16, paddingLength, reserved.
    if (buf[at] !== FCGI_VERSION_1) {
      const guess = this.firstHeader ? guessProtocol(buf, at) : undefined;
      if (guess !== undefined) {
        this.fail(
          'ERR_FCGI_NOT_FASTCGI',
          `the first bytes look like ${guess}, not FastCGI: check the front end`,
        );
      } else {
        this.fail('ERR_FCGI_BAD_VERSION', `record header version ${buf[at]}, expected ${FCGI_VERSION_1}`);
      }
      return false;
    }
    this.firstHeader = false;
    this.type = buf[at + 1];
    this.requestId = (buf[at + 2] << 8) | buf[at + 3];
    this.contentLeft = (buf[at + 4] << 8) | buf[at + 5];
    // Any padding 0–255 is accepted and skipped; its bytes are ignored (spec §3.3, "Padding").
    this.paddingLeft = buf[at + 6];
    this.route();
    return !this.failed;
  }

  private expect(state: number, onComplete: number): void {
    this.state = state;
    this.onComplete = onComplete;
  }

  /** Decides from the header alone what the record's content is for. */
  private route(): void {
    const type = this.type;
    const id = this.requestId;
    const length = this.contentLeft;
    this.current = undefined;

    // Management records use the null id (spec §3.3): GET_VALUES is the only one an application
    // receives; for any other type the answer is UNKNOWN_TYPE (spec §4.2).
    if (id === FCGI_NULL_REQUEST_ID) {
      if (type === FCGI_GET_VALUES) this.expect(S_CONTENT, R_GET_VALUES);
      else this.expect(S_DISCARD, R_UNKNOWN);
      return;
    }

    const req = this.requests.get(id);
    if (type === FCGI_BEGIN_REQUEST) {
      if (req !== undefined) {
        // The web server thinks the id is free while we still work on it (spec §3.3); nothing sent on
        // this connection can be attributed safely any more.
        this.fail('ERR_FCGI_DUPLICATE_REQUEST', `BEGIN_REQUEST for request ${id}, which is still active`);
      } else if (length !== FCGI_BEGIN_REQUEST_BODY_LEN) {
        this.fail(
          'ERR_FCGI_BAD_BEGIN_LENGTH',
          `BEGIN_REQUEST body of ${length} bytes, expected 8 (spec §5.1)`,
        );
      } else {
        this.expect(S_CONTENT, R_BEGIN);
      }
      return;
    }

    // "While a request ID R is inactive, the application ignores records with requestId == R" (spec §3.3).
    if (req === undefined || req.phase === P_CLOSED) {
      this.expect(S_DISCARD, R_IGNORE);
      return;
    }
    this.current = req;

    switch (type) {
      case FCGI_PARAMS:
        if (req.phase !== P_PARAMS) {
          this.afterEnd(req, 'PARAMS');
        } else if (length > this.maxParamsBytes - req.paramsBytes) {
          // Checked on the header, before the content is buffered.
          this.failRequest(
            req,
            'ERR_FCGI_PARAMS_TOO_LARGE',
            `PARAMS of request ${id} exceed ${this.maxParamsBytes} bytes`,
            431,
          );
        } else {
          this.expect(S_CONTENT, R_PARAMS);
        }
        return;
      case FCGI_STDIN:
      case FCGI_DATA: {
        const stdin = type === FCGI_STDIN;
        if (req.phase === P_PARAMS) {
          // A responder reads PARAMS, then STDIN (spec §6.2); a filter then DATA (spec §6.4).
          this.failRequest(
            req,
            stdin ? 'ERR_FCGI_STDIN_BEFORE_PARAMS_END' : 'ERR_FCGI_DATA_BEFORE_PARAMS_END',
            `${recordTypeName(type)} for request ${id} before its PARAMS ended`,
            400,
          );
        } else if (stdin ? req.stdinEnded : req.dataEnded) {
          this.afterEnd(req, stdin ? 'STDIN' : 'DATA');
        } else if (length === 0) {
          // The empty record ends the stream (spec §3.3).
          this.expect(S_PADDING, R_IGNORE);
          if (stdin) {
            req.stdinEnded = true;
            this.sink.stdinEnd(id);
          } else {
            req.dataEnded = true;
            this.sink.dataEnd(id);
          }
        } else {
          this.expect(S_STREAM, stdin ? R_STDIN : R_DATA);
        }
        return;
      }
      case FCGI_ABORT_REQUEST:
        // Any content is skipped; the abort takes effect once the record is complete.
        this.expect(S_DISCARD, R_ABORT);
        return;
      case FCGI_GET_VALUES:
      case FCGI_GET_VALUES_RESULT:
      case FCGI_UNKNOWN_TYPE:
        // Management types "cannot use" a request id other than the null one (spec appendix A).
        this.failRequest(
          req,
          'ERR_FCGI_MANAGEMENT_ON_REQUEST_ID',
          `management record ${recordTypeName(type)} on request ${id}`,
          400,
        );
        return;
      default:
        // END_REQUEST, STDOUT and STDERR flow from the application (spec appendix A); others are undefined.
        this.failRequest(
          req,
          'ERR_FCGI_UNEXPECTED_TYPE',
          `record ${recordTypeName(type)} on request ${id} is not one a web server sends`,
          400,
        );
    }
  }

  /** A record for a stream that already ended: a repeated terminator is harmless, data would be lost. */
  private afterEnd(req: RequestState, stream: string): void {
    if (this.contentLeft === 0) {
      this.expect(S_PADDING, R_IGNORE);
    } else {
      this.failRequest(
        req,
        'ERR_FCGI_STREAM_AFTER_END',
        `${stream} data for request ${this.requestId} after its stream ended`,
        400,
      );
    }
  }

  private readContent(): boolean {
    const length = this.contentLeft;
    if (this.queued < length) return false;
    const content = length === 0 ? EMPTY : this.consume(length);
    this.contentLeft = 0;
    this.state = S_PADDING;
    switch (this.onComplete) {
      case R_BEGIN:
        this.beginRequest(content);
        break;
      case R_PARAMS:
        this.paramsRecord(content);
        break;
      default:
        this.getValues(content);
    }
    return true;
  }

  private readStream(): boolean {
    if (this.queued === 0) return false;
    const chunk = this.chunks[0];
    const start = this.offset;
    const available = chunk.length - start;
    const take = available < this.contentLeft ? available : this.contentLeft;
    const view = start === 0 && take === chunk.length ? chunk : chunk.subarray(start, start + take);
    this.advance(take);
    this.contentLeft -= take;
    if (this.contentLeft === 0) this.state = S_PADDING;
    // The request may have been closed meanwhile (requestDone from the sink): drop the rest quietly.
    if ((this.current as RequestState).phase === P_BODY) {
      if (this.onComplete === R_STDIN) this.sink.stdin(this.requestId, view);
      else this.sink.data(this.requestId, view);
    }
    return true;
  }

  private discardContent(): boolean {
    if (this.contentLeft !== 0) {
      this.contentLeft -= this.skip(this.contentLeft);
      if (this.contentLeft !== 0) return false;
    }
    this.state = S_PADDING;
    if (this.onComplete === R_ABORT) {
      const req = this.current as RequestState;
      if (req.phase === P_PARAMS || req.phase === P_BODY) {
        this.releaseParams(req);
        req.phase = P_CLOSED;
        this.sink.abortRequest(this.requestId);
      }
    } else if (this.onComplete === R_UNKNOWN) {
      this.sink.unknownType(this.type);
    }
    return true;
  }

  private skipPadding(): boolean {
    if (this.paddingLeft !== 0) {
      this.paddingLeft -= this.skip(this.paddingLeft);
      if (this.paddingLeft !== 0) return false;
    }
    this.state = S_HEADER;
    return true;
  }

  // ---- record actions

  private beginRequest(body: Buffer): void {
    // FCGI_BeginRequestBody: role BE16, flags, 5 reserved bytes (spec §5.1).
    const role = (body[0] << 8) | body[1];
    const keepConn = (body[2] & FCGI_KEEP_CONN) !== 0;
    const id = this.requestId;
    if (this.requests.size >= this.maxConnRequests) {
      // The id stays inactive, so whatever else the web server sends for it is ignored (spec §3.3).
      this.sink.overloaded(id, role, keepConn);
      return;
    }
    this.requests.set(id, new RequestState());
    this.sink.beginRequest(id, role, keepConn);
  }

  private paramsRecord(content: Buffer): void {
    const req = this.current as RequestState;
    if (req.phase !== P_PARAMS) return;
    const id = this.requestId;
    if (content.length !== 0) {
      // A pair may straddle records, so the content waits for the empty record (spec §3.3, §5.2).
      // The usual single record stays a view; from a second record on everything is copied, because
      // views pin whole chunks and many small records must not pin many chunks.
      const parts = req.params;
      if (parts.length === 1) parts[0] = Buffer.from(parts[0]);
      parts.push(parts.length === 0 ? content : Buffer.from(content));
      req.paramsBytes += content.length;
      this.paramsBuffered += content.length;
      return;
    }
    const parts = req.params;
    const all =
      parts.length === 0 ? EMPTY : parts.length === 1 ? parts[0] : Buffer.concat(parts, req.paramsBytes);
    this.releaseParams(req);
    req.phase = P_BODY;
    let pairs: PairList;
    try {
      pairs = decodePairList(all);
    } catch (err) {
      if (!(err instanceof FastCgiProtocolError)) throw err;
      req.phase = P_CLOSED;
      this.sink.error(
        new FastCgiProtocolError('ERR_FCGI_BAD_PAIR', `PARAMS of request ${id}: ${err.message}`, {
          requestId: id,
          status: 400,
          cause: err,
        }),
      );
      return;
    }
    this.sink.params(id, pairs);
  }

  private getValues(content: Buffer): void {
    let pairs: PairList;
    try {
      pairs = decodePairList(content);
    } catch (err) {
      if (!(err instanceof FastCgiProtocolError)) throw err;
      this.fail('ERR_FCGI_BAD_PAIR', `GET_VALUES: ${err.message}`, err);
      return;
    }
    // The query's values are empty by definition (spec §4.1); only the names matter.
    const names: string[] = [];
    for (let i = 0; i < pairs.length; i += 2) names.push(pairs[i]);
    this.sink.getValues(names);
  }

  // ---- errors and bookkeeping

  private releaseParams(req: RequestState): void {
    if (req.params.length !== 0) {
      for (const part of req.params) this.paramsBuffered -= part.length;
      req.params = [];
    }
  }

  /** Ends one request with an error; the rest of its current record is skipped. */
  private failRequest(req: RequestState, code: FastCgiErrorCode, message: string, status: number): void {
    this.releaseParams(req);
    req.phase = P_CLOSED;
    this.expect(S_DISCARD, R_IGNORE);
    this.sink.error(new FastCgiProtocolError(code, message, { requestId: this.requestId, status }));
  }

  /** A fatal error: report it, drop everything buffered, and ignore all further input. */
  private fail(code: FastCgiErrorCode, message: string, cause?: unknown): void {
    this.failed = true;
    this.chunks = [];
    this.offset = 0;
    this.queued = 0;
    for (const req of this.requests.values()) {
      this.releaseParams(req);
      req.phase = P_DONE;
    }
    this.requests.clear();
    this.sink.error(new FastCgiProtocolError(code, message, { cause }));
  }
}
