// The CGI response head an application writes (RFC 3875 §6), parsed incrementally: pure, no sockets.
import { ClientError } from './errors';

/** A response's status and headers, as the application wrote them. */
export interface CgiResponseHead {
  /** 100–599; from `Status:`, else 302 for an absolute Location, else 200 (RFC 3875 §6.3.3, §6.2.4). */
  readonly status: number;
  /** The reason phrase after the code; '' when the application sent none. */
  readonly reason: string;
  /** Every header but Status, in order, repeats kept. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

/** Largest head accepted by default, its blank line included: lighttpd's cap; nginx's default buffer is smaller still. */
export const DEFAULT_MAX_HEAD_BYTES = 65536;

// RFC 3875 §6.3.3: Status = "Status:" SP 3digit SP reason-phrase (the reason may be empty here).
const STATUS = /^([1-5]\d\d)(?:[ \t]+(.*))?$/;
// RFC 3986 §3.1 scheme: an absolute Location (client redirect) starts with one.
const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:/;

const REASONS: Readonly<Record<number, string>> = { 200: 'OK', 302: 'Found' };

function badHead(message: string): ClientError {
  return new ClientError('ERR_CLIENT_BAD_HEAD', message);
}

/**
 * Parses the lines of a complete head (without the blank line that ends it). Lines end in LF or
 * CRLF; continuation lines are refused, as RFC 3875 §6.3 has none.
 */
export function parseCgiHead(text: string): CgiResponseHead {
  const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  if (lines.length === 1 && lines[0] === '') throw badHead('the response has no header (RFC 3875 §6.2)');
  let status: number | undefined;
  let reason = '';
  let location: string | undefined;
  const headers: Array<readonly [string, string]> = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0 || line[0] === ' ' || line[0] === '\t') {
      throw badHead(`not a header line: ${JSON.stringify(line.slice(0, 100))}`);
    }
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') {
      const match = STATUS.exec(value);
      if (match === null) throw badHead(`bad Status ${JSON.stringify(value.slice(0, 100))}`);
      status = Number(match[1]);
      reason = match[2] ?? '';
      continue;
    }
    if (name.toLowerCase() === 'location') location = value;
    headers.push([name, value]);
  }
  if (status === undefined) {
    status = location !== undefined && ABSOLUTE_URI.test(location) ? 302 : 200;
    reason = REASONS[status];
  }
  return { status, reason, headers };
}

/** A head once complete, and the body bytes that followed it in the same input. */
export interface HeadResult {
  readonly head: CgiResponseHead;
  readonly rest: Buffer;
}

/**
 * Collects bytes until the blank line that ends the head, checking the size before buffering more.
 * The body bytes after it are returned as a view, never copied.
 */
export class CgiHeadParser {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxHeadBytes: number = DEFAULT_MAX_HEAD_BYTES) {}

  /** Bytes seen so far (all of them head). */
  get received(): number {
    return this.pending.length;
  }

  /** Feeds a chunk; returns the head once the blank line arrived. Throws ClientError. */
  push(chunk: Buffer): HeadResult | undefined {
    // Resume the search two bytes back: the blank line may straddle chunks.
    const from = Math.max(0, this.pending.length - 2);
    const buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const end = findHeadEnd(buf, from);
    if (end === undefined) {
      if (buf.length > this.maxHeadBytes) {
        throw new ClientError(
          'ERR_CLIENT_HEAD_TOO_LARGE',
          `response head exceeds ${this.maxHeadBytes} bytes`,
        );
      }
      this.pending = buf === chunk ? Buffer.from(chunk) : buf;
      return undefined;
    }
    if (end.bodyStart > this.maxHeadBytes) {
      throw new ClientError('ERR_CLIENT_HEAD_TOO_LARGE', `response head exceeds ${this.maxHeadBytes} bytes`);
    }
    this.pending = Buffer.alloc(0);
    return {
      head: parseCgiHead(buf.toString('latin1', 0, end.headLength)),
      rest: buf.subarray(end.bodyStart),
    };
  }
}

/** Where the head's text ends and the body starts: at the first empty line (LF LF or LF CR LF). */
function findHeadEnd(buf: Buffer, from: number): { headLength: number; bodyStart: number } | undefined {
  // A head that is only a blank line: no header at all.
  if (from === 0 && (buf[0] === 0x0a || (buf[0] === 0x0d && buf[1] === 0x0a))) {
    return { headLength: 0, bodyStart: buf[0] === 0x0a ? 1 : 2 };
  }
  for (let i = buf.indexOf(0x0a, from); i !== -1; i = buf.indexOf(0x0a, i + 1)) {
    if (buf[i + 1] === 0x0a) return { headLength: i, bodyStart: i + 2 };
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return { headLength: i, bodyStart: i + 3 };
  }
  return undefined;
}
