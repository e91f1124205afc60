// An incremental parser for the HTTP/1.x response a Node ServerResponse writes: head, then the body
// de-framed (Content-Length, chunked, or up to the end of the stream). Bytes in, typed events out.
import { GatewayError } from '../errors';
import { bodyAllowed } from '../gateway/response-head';

/** What the parser reports, in order: at most one head, body chunks, then the end. */
export interface ResponseSink {
  /**
   * The response's head: any but the interim 100, 102 and 103 that come before it (a 101 is passed
   * on, for the gateway to refuse); header names as written, hop-by-hop headers included.
   */
  head(code: number, reason: string, headers: Array<[string, string]>): void;
  /** A body chunk, never empty; a view into the written bytes. */
  body(chunk: Buffer): void;
  /** The body is complete as framed; anything written later is ignored. */
  end(): void;
}

const enum State {
  HEAD,
  LENGTH,
  CHUNK_SIZE,
  CHUNK_DATA,
  CHUNK_DATA_END,
  TRAILERS,
  UNTIL_CLOSE,
  DONE,
}

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Parses what ServerResponse serializes. The writer is Node itself, so malformed framing is a bug
 * rather than an attack; it is still reported as ERR_ADAPTER_BAD_RESPONSE instead of guessed at.
 */
export class HttpResponseParser {
  private state = State.HEAD;
  /** Bytes of an unfinished head or chunk-size line, carried to the next write. */
  private pending: Buffer | null = null;
  private remaining = 0;
  /** The code of the last interim head skipped (0: none). */
  private interim = 0;

  constructor(
    private readonly sink: ResponseSink,
    /** The request's method: a response to HEAD has no body whatever its head says. */
    private readonly method: string,
  ) {}

  get done(): boolean {
    return this.state === State.DONE;
  }

  push(data: Buffer): void {
    let chunk = data;
    if (this.pending !== null) {
      chunk = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    let at = 0;
    while (at < chunk.length) {
      switch (this.state) {
        case State.HEAD: {
          const end = chunk.indexOf(HEAD_END, at);
          if (end === -1) return this.keep(chunk, at);
          this.parseHead(chunk.toString('latin1', at, end));
          at = end + 4;
          break;
        }
        case State.LENGTH: {
          const take = Math.min(this.remaining, chunk.length - at);
          this.sink.body(chunk.subarray(at, at + take));
          at += take;
          this.remaining -= take;
          if (this.remaining === 0) this.finish();
          break;
        }
        case State.CHUNK_SIZE: {
          const end = chunk.indexOf(CRLF, at);
          if (end === -1) return this.keep(chunk, at);
          // A chunk extension (";name=value") may follow the size; Node never writes one.
          const size = parseInt(chunk.toString('latin1', at, end).split(';', 1)[0], 16);
          if (!Number.isFinite(size) || size < 0) throw badResponse('bad chunk size');
          at = end + 2;
          if (size === 0) this.state = State.TRAILERS;
          else {
            this.remaining = size;
            this.state = State.CHUNK_DATA;
          }
          break;
        }
        case State.CHUNK_DATA: {
          const take = Math.min(this.remaining, chunk.length - at);
          this.sink.body(chunk.subarray(at, at + take));
          at += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            this.remaining = 2;
            this.state = State.CHUNK_DATA_END;
          }
          break;
        }
        case State.CHUNK_DATA_END: {
          const take = Math.min(this.remaining, chunk.length - at);
          at += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = State.CHUNK_SIZE;
          break;
        }
        case State.TRAILERS: {
          // Trailers cannot travel in a CGI response: skipped up to the blank line that ends them.
          if (chunk[at] === 13) {
            if (chunk.length - at < 2) return this.keep(chunk, at);
            this.finish();
            at += 2;
            break;
          }
          const end = chunk.indexOf(CRLF, at);
          if (end === -1) return this.keep(chunk, at);
          at = end + 2;
          break;
        }
        case State.UNTIL_CLOSE:
          this.sink.body(at === 0 ? chunk : chunk.subarray(at));
          return;
        case State.DONE:
          return;
      }
    }
  }

  /** The writer ended the stream: ends a body that runs until the close, fails an unfinished one. */
  end(): void {
    if (this.state === State.UNTIL_CLOSE) this.finish();
    else if (this.state === State.HEAD && this.interim !== 0) {
      // writeHead(100) then end() writes just what writeContinue() does: no final head ever came.
      throw badResponse(`response ended after an interim ${this.interim} head, before the final head`);
    } else if (this.state !== State.DONE) throw badResponse('response ended before it was complete');
  }

  private keep(chunk: Buffer, at: number): void {
    // Copied: a view would pin the whole written buffer.
    this.pending = Buffer.from(chunk.subarray(at));
  }

  private parseHead(text: string): void {
    // One pass over the head with indexOf: this runs for every response the Node adapter forwards.
    let end = text.indexOf('\r\n');
    if (end === -1) end = text.length;
    const code = statusCode(text, end);
    if (code === -1) throw badResponse(`bad status line ${JSON.stringify(text.slice(0, Math.min(end, 80)))}`);
    // The interim responses ServerResponse writes (writeContinue, writeProcessing, writeEarlyHints)
    // cannot travel over CGI: the front end sends its own 100 Continue, and the final head follows.
    // Any other 1xx came from writeHead() and is the response's own head: a 101 is passed on to be
    // refused, rather than skipped while the request waits for a final head that never comes.
    if (code === 100 || code === 102 || code === 103) {
      this.interim = code;
      return;
    }
    const reason = end > 13 ? text.slice(13, end) : '';
    const headers: Array<[string, string]> = [];
    let length: number | undefined;
    let chunked = false;
    for (let at = end + 2; at < text.length; at = end + 2) {
      end = text.indexOf('\r\n', at);
      if (end === -1) end = text.length;
      const colon = text.indexOf(':', at);
      if (colon <= at || colon >= end) {
        throw badResponse(`bad header line ${JSON.stringify(text.slice(at, Math.min(end, at + 80)))}`);
      }
      const name = text.slice(at, colon);
      const value = text.slice(colon + 1, end).trim();
      headers.push([name, value]);
      // Only two names matter for the framing; others are never lower-cased.
      if (name.length === 14 && name.toLowerCase() === 'content-length') length = Number(value);
      else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
        chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
      }
    }
    this.sink.head(code, reason, headers);
    if (!bodyAllowed(this.method, code)) this.finish();
    else if (chunked) this.state = State.CHUNK_SIZE;
    else if (length !== undefined) {
      this.remaining = length;
      this.state = State.LENGTH;
      if (length === 0) this.finish();
    } else this.state = State.UNTIL_CLOSE;
  }

  private finish(): void {
    this.state = State.DONE;
    this.sink.end();
  }
}

/** The code of an `HTTP/1.x NNN[ reason]` status line ending at `end`, or -1 when it is not one. */
function statusCode(text: string, end: number): number {
  if (end < 12 || !text.startsWith('HTTP/1.') || (text[7] !== '0' && text[7] !== '1') || text[8] !== ' ') {
    return -1;
  }
  if (end > 12 && text[12] !== ' ') return -1;
  let code = 0;
  for (let i = 9; i < 12; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    code = code * 10 + digit;
  }
  return code;
}

function badResponse(message: string): GatewayError {
  return new GatewayError('ERR_ADAPTER_BAD_RESPONSE', message);
}
