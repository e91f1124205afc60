// Incremental SCGI request parser: bytes in, header pairs and body views out through a sink; no sockets.
import { DEFAULTS } from '../settings/options';
import { latin1 } from '../common/latin1';
import { ScgiProtocolError, type ScgiErrorCode } from './errors';

/**
 * Headers exactly as the front end sent them, flat: [name0, value0, name1, value1, …]. Order and
 * repeated names are kept (the environ builder merges repeats). Decoded latin1, so every byte
 * survives: `Buffer.from(value, 'latin1')` gives back the bytes on the wire.
 */
export type HeaderPairs = string[];

/** Where {@link ScgiParser} delivers a request. Callbacks must not throw; an exception leaves push() or end(). */
export interface ScgiSink {
  /** Once, when the whole header block, its comma and CONTENT_LENGTH have been validated. */
  headers(pairs: HeaderPairs, contentLength: number): void;
  /** Body bytes as views into the pushed chunks: never empty, never beyond contentLength. */
  body(chunk: Buffer): void;
  /** Exactly contentLength body bytes were delivered (right after headers() when it is 0). */
  bodyEnd(): void;
  /** Bytes that arrived after the body; already discarded, reported so the caller can log them. */
  excess(bytes: number): void;
  /** Once; the parser ignores all input afterwards. */
  error(err: ScgiProtocolError): void;
}

export interface ScgiParserOptions {
  /** Largest header block (the netstring length) accepted; default `DEFAULTS.maxHeaderBytes`. */
  readonly maxHeaderBytes?: number;
}

// Parser states, in the order a request moves through them.
const LENGTH = 0; // netstring length digits, up to ':'
const HEADERS = 1; // the header block, `length` bytes
const COMMA = 2; // the ',' closing the netstring
const BODY = 3; // CONTENT_LENGTH body bytes
const DONE = 4; // request complete; anything more is excess
const ERRORED = 5; // an error was reported; input ignored

const COLON = 0x3a;
const COMMA_BYTE = 0x2c;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/**
 * Digits a length may have when the limit itself does not stop it (an infinite maxHeaderBytes):
 * 10^15 is far beyond any buffer and still exact in a Number. A finite limit rejects a length as
 * too large no later than its first digit beyond the limit's own, so this cap never fires then.
 */
const MAX_LENGTH_DIGITS = 15;

const CONTENT_LENGTH = 'CONTENT_LENGTH';
const EMPTY = Buffer.alloc(0);

/**
 * Parses one SCGI request (SCGI protocol.txt: `<len>":"<headers>","<body>`) from chunks as they
 * arrive, in the manner of ws's Receiver: a chunk queue, numeric states, and each step returning
 * early while bytes are missing. Every length is checked before anything is buffered for it.
 *
 * Only the header block is ever held between calls (at most `maxHeaderBytes`); length digits are
 * folded into a number as they arrive and body bytes leave at once as views.
 */
export class ScgiParser {
  private readonly sink: ScgiSink;
  private readonly maxHeaderBytes: number;

  private state = LENGTH;
  private eof = false;
  private running = false;

  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private retainedMax = 0;
  private received = 0;

  /** Netstring length so far, then the header block size. */
  private headerLength = 0;
  private lengthDigits = 0;
  /** Validated pairs waiting for the netstring's comma. */
  private pairs: HeaderPairs = [];
  private contentLength = 0;
  private bodyRemaining = 0;

  constructor(sink: ScgiSink, options: ScgiParserOptions = {}) {
    const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULTS.maxHeaderBytes;
    if (!(maxHeaderBytes >= 0)) throw new RangeError('maxHeaderBytes must be a number >= 0');
    this.sink = sink;
    this.maxHeaderBytes = maxHeaderBytes;
  }

  /** Bytes held in the queue right now (between calls: part of a header block still arriving). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * The most bytes the queue ever kept between calls. A chunk held only while push() runs is not
   * counted: the caller owns it for that long anyway. Never above `maxHeaderBytes`.
   */
  get highWaterMark(): number {
    return this.retainedMax;
  }

  /** Every byte pushed so far, excess included (0 at end(): the peer connected and sent nothing). */
  get bytesReceived(): number {
    return this.received;
  }

  /** Feeds the next bytes read from the connection. Ignored after an error or end(). */
  push(chunk: Buffer): void {
    if (this.eof || this.state === ERRORED) return;
    const n = chunk.length;
    if (n === 0) return;
    this.received += n;
    if (this.state === DONE) {
      this.sink.excess(n);
      return;
    }
    this.chunks.push(chunk);
    this.buffered += n;
    // A sink that pushes from a callback only queues; the running loop picks the bytes up.
    if (!this.running) this.run();
  }

  /** End of input. Before the request is complete this reports ERR_SCGI_TRUNCATED or ERR_SCGI_BODY_TRUNCATED. */
  end(): void {
    if (this.eof) return;
    this.eof = true;
    if (!this.running) this.finish();
  }

  private run(): void {
    this.running = true;
    try {
      while (this.step());
    } finally {
      this.running = false;
    }
    if (this.buffered > this.retainedMax) this.retainedMax = this.buffered;
    if (this.eof) this.finish();
  }

  /** Advances one state; false when bytes are missing or the request is over. */
  private step(): boolean {
    switch (this.state) {
      case LENGTH:
        return this.readLength();
      case HEADERS:
        return this.readHeaders();
      case COMMA:
        return this.readComma();
      case BODY:
        return this.readBody();
      case DONE:
        if (this.buffered > 0) {
          const n = this.buffered;
          this.clear();
          this.sink.excess(n);
        }
        return false;
      default:
        return false;
    }
  }

  /** Folds length digits into a number as they arrive, so an oversized length is refused before `:`. */
  private readLength(): boolean {
    if (this.buffered === 0) return false;
    const chunk = this.chunks[0];
    let length = this.headerLength;
    let digits = this.lengthDigits;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (c === COLON) {
        if (digits === 0) return this.fail('ERR_SCGI_BAD_LENGTH', 'netstring length is empty');
        this.headerLength = length;
        this.skip(i + 1);
        this.state = HEADERS;
        return true;
      }
      if (c < DIGIT_0 || c > DIGIT_9) {
        return this.fail('ERR_SCGI_BAD_LENGTH', `netstring length has byte 0x${hex(c)}`);
      }
      // Netstrings (which SCGI's header block is): no extra zeros in front; "0" alone is an empty block.
      if (digits === 1 && length === 0) {
        return this.fail('ERR_SCGI_BAD_LENGTH', 'netstring length has a leading zero');
      }
      length = length * 10 + (c - DIGIT_0);
      if (length > this.maxHeaderBytes) {
        // More digits can only make it larger: refuse now, before the rest of the length arrives.
        return this.fail(
          'ERR_SCGI_HEADER_TOO_LARGE',
          `header block of at least ${length} bytes exceeds ${this.maxHeaderBytes}`,
        );
      }
      if (++digits > MAX_LENGTH_DIGITS) {
        return this.fail('ERR_SCGI_BAD_LENGTH', `netstring length has more than ${MAX_LENGTH_DIGITS} digits`);
      }
    }
    this.headerLength = length;
    this.lengthDigits = digits;
    this.skip(chunk.length);
    return true;
  }

  /** Waits for the whole block, then validates it in one pass; the pairs wait for the comma. */
  private readHeaders(): boolean {
    if (this.buffered < this.headerLength) return false;
    const block = this.consume(this.headerLength);
    this.state = COMMA;
    return this.parseBlock(block);
  }

  private readComma(): boolean {
    if (this.buffered === 0) return false;
    if (this.chunks[0][0] !== COMMA_BYTE) {
      return this.fail(
        'ERR_SCGI_MISSING_COMMA',
        `header block ends with 0x${hex(this.chunks[0][0])}, not ','`,
      );
    }
    this.skip(1);
    const pairs = this.pairs;
    this.pairs = [];
    this.bodyRemaining = this.contentLength;
    this.state = this.contentLength === 0 ? DONE : BODY;
    this.sink.headers(pairs, this.contentLength);
    if (this.contentLength === 0) this.sink.bodyEnd();
    return true;
  }

  /** Hands out body bytes as views, one per queued chunk; nothing is kept. */
  private readBody(): boolean {
    if (this.buffered === 0) return false;
    const n = Math.min(this.chunks[0].length, this.bodyRemaining);
    const view = this.consume(n);
    this.bodyRemaining -= n;
    if (this.bodyRemaining === 0) this.state = DONE;
    this.sink.body(view);
    if (this.bodyRemaining === 0) this.sink.bodyEnd();
    return true;
  }

  /**
   * `(name NUL value NUL)*`, CONTENT_LENGTH first (SCGI protocol.txt). One pass with indexOf(0);
   * the first violation in byte order wins (a missing CONTENT_LENGTH is only known at the end).
   * Names and values are substrings of the block decoded once as latin1 (see latin1()), so the
   * socket's buffer is not pinned.
   */
  private parseBlock(block: Buffer): boolean {
    const text = latin1(block);
    const end = text.length;
    const pairs: HeaderPairs = [];
    let contentLength = -1;
    let pos = 0;
    while (pos < end) {
      const nameEnd = text.indexOf('\0', pos);
      if (nameEnd === -1) return this.fail('ERR_SCGI_ODD_FIELDS', 'header block does not end with NUL');
      if (nameEnd === pos) return this.fail('ERR_SCGI_EMPTY_NAME', `empty header name at byte ${pos}`);
      const valueEnd = nameEnd + 1 < end ? text.indexOf('\0', nameEnd + 1) : -1;
      if (valueEnd === -1) return this.fail('ERR_SCGI_ODD_FIELDS', 'header block has a name without a value');
      const name = text.substring(pos, nameEnd);
      const value = text.substring(nameEnd + 1, valueEnd);
      if (name === CONTENT_LENGTH) {
        if (pairs.length !== 0) {
          return contentLength === -1
            ? this.fail('ERR_SCGI_CONTENT_LENGTH_NOT_FIRST', 'CONTENT_LENGTH is not the first header')
            : this.fail('ERR_SCGI_CONTENT_LENGTH_DUPLICATE', 'CONTENT_LENGTH sent more than once');
        }
        contentLength = parseDigits(value);
        // The body limit is the request's to apply (runtime/request.ts), on every listener alike;
        // here only a length no Number holds exactly is refused.
        if (contentLength === -1 || !Number.isSafeInteger(contentLength)) {
          return this.fail(
            'ERR_SCGI_CONTENT_LENGTH_INVALID',
            'CONTENT_LENGTH is not decimal digits of a length a Number holds exactly',
          );
        }
      }
      pairs.push(name, value);
      pos = valueEnd + 1;
    }
    if (contentLength === -1) {
      return this.fail('ERR_SCGI_CONTENT_LENGTH_MISSING', 'CONTENT_LENGTH header is missing');
    }
    this.pairs = pairs;
    this.contentLength = contentLength;
    return true;
  }

  /** End of input: only an error when the request is incomplete. */
  private finish(): void {
    switch (this.state) {
      case LENGTH:
      case HEADERS:
      case COMMA:
        this.fail(
          'ERR_SCGI_TRUNCATED',
          this.received === 0
            ? 'connection closed before any byte'
            : 'connection closed inside the header netstring',
        );
        break;
      case BODY:
        this.fail(
          'ERR_SCGI_BODY_TRUNCATED',
          `connection closed after ${this.contentLength - this.bodyRemaining} of ${this.contentLength} body bytes`,
        );
        break;
      default:
        break;
    }
  }

  private fail(code: ScgiErrorCode, message: string): false {
    this.state = ERRORED;
    this.pairs = [];
    this.clear();
    this.sink.error(new ScgiProtocolError(code, message));
    return false;
  }

  /**
   * Takes the next n bytes (n <= buffered): a view when they sit in the first chunk, a copy only
   * when they straddle chunks.
   */
  private consume(n: number): Buffer {
    if (n === 0) return EMPTY; // a "0:" netstring, the queue possibly empty
    this.buffered -= n;
    const first = this.chunks[0];
    if (n === first.length) {
      this.chunks.shift();
      return first;
    }
    if (n < first.length) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let offset = 0;
    let used = 0;
    while (offset < n) {
      const chunk = this.chunks[used];
      const take = Math.min(chunk.length, n - offset);
      chunk.copy(out, offset, 0, take);
      offset += take;
      if (take === chunk.length) used++;
      else this.chunks[used] = chunk.subarray(take);
    }
    this.chunks.splice(0, used);
    return out;
  }

  /** Drops the next n bytes (n <= buffered), which sit in the first chunk. */
  private skip(n: number): void {
    this.buffered -= n;
    const first = this.chunks[0];
    if (n === first.length) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
  }

  private clear(): void {
    this.chunks.length = 0;
    this.buffered = 0;
  }
}

/** Value of a string of ASCII digits (leading zeros allowed); -1 when empty or anything else. */
function parseDigits(s: string): number {
  const len = s.length;
  if (len === 0) return -1;
  let n = 0;
  for (let i = 0; i < len; i++) {
    const d = s.charCodeAt(i) - DIGIT_0;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
