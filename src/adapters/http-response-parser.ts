// An incremental parser for the HTTP/1.x response a Node ServerResponse writes: head, then the body
// de-framed (Content-Length, chunked, or up to the end of the stream). Bytes in, typed events out.
import { GatewayError } from '../errors';

/** What the parser reports, in order: at most one head, body chunks, then the end. */
export interface ResponseSink {
  /** The final (non-1xx) head; header names as written, hop-by-hop headers included. */
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

  constructor(
    private readonly sink: ResponseSink,
    /** Whether a response with this status may have a body (false for HEAD, 204, 304). */
    private readonly bodyAllowed: (code: number) => boolean,
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
    else if (this.state !== State.DONE) throw badResponse('response ended before it was complete');
  }

  private keep(chunk: Buffer, at: number): void {
    // Copied: a view would pin the whole written buffer.
    this.pending = Buffer.from(chunk.subarray(at));
  }

  private parseHead(text: string): void {
    const lines = text.split('\r\n');
    const status = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
    if (status === null) throw badResponse(`bad status line ${JSON.stringify(lines[0].slice(0, 80))}`);
    const code = Number(status[1]);
    // Interim responses (100 Continue, 103 Early Hints) cannot travel over CGI: the front end sends
    // its own 100 Continue, and the final head follows.
    if (code < 200) return;
    const headers: Array<[string, string]> = [];
    let length: number | undefined;
    let chunked = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(':');
      if (colon <= 0) throw badResponse(`bad header line ${JSON.stringify(line.slice(0, 80))}`);
      const name = line.slice(0, colon);
      const value = line.slice(colon + 1).trim();
      headers.push([name, value]);
      const lower = name.toLowerCase();
      if (lower === 'content-length') length = Number(value);
      else if (lower === 'transfer-encoding') chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
    }
    this.sink.head(code, status[2] ?? '', headers);
    if (!this.bodyAllowed(code)) this.finish();
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

function badResponse(message: string): GatewayError {
  return new GatewayError('ERR_ADAPTER_BAD_RESPONSE', message);
}
