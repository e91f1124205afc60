// The CGI response head: status and header validation (no injection) and its serialization.
import { GatewayError } from '../errors';
import type { HeaderList } from './types';

// RFC 9110 §5.6.2 token characters.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 9110 §5.5 field-value: visible ASCII, SP, HTAB, obs-text; never CR, LF or NUL.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
// RFC 3875 §6.3.3: Status = 3DIGIT SP reason-phrase.
const STATUS_LINE = /^\d\d\d [\t\x20-\x7e\x80-\xff]*$/;

/** A validated response head, ready to serialize. */
export interface ResponseHead {
  readonly status: string;
  /** The numeric part of `status`. */
  readonly code: number;
  readonly headers: HeaderList;
  /** A Content-Length the server adds after `headers` (see {@link withContentLength}). */
  readonly contentLength?: number;
}

/** Checks an app's status line and headers; throws GatewayError on anything a front end could misread. */
export function validateHead(status: unknown, headers: unknown): ResponseHead {
  if (typeof status !== 'string' || !STATUS_LINE.test(status)) {
    throw new GatewayError('ERR_GATEWAY_BAD_STATUS', `invalid status line ${JSON.stringify(status)}`);
  }
  const code = Number(status.slice(0, 3));
  if (code < 200 || code > 599) throw statusError(code, status);
  if (!Array.isArray(headers)) {
    throw new GatewayError('ERR_GATEWAY_BAD_HEADER', 'headers must be an array of [name, value] pairs');
  }
  for (const header of headers as unknown[]) {
    if (!Array.isArray(header) || header.length !== 2) {
      throw new GatewayError('ERR_GATEWAY_BAD_HEADER', 'each header must be a [name, value] pair');
    }
    const [name, value] = header as [unknown, unknown];
    if (typeof name !== 'string' || !TOKEN.test(name)) {
      throw new GatewayError('ERR_GATEWAY_BAD_HEADER', `invalid header name ${JSON.stringify(name)}`);
    }
    // The status travels as its own argument; a Status header would let the two disagree.
    if (name.length === 6 && name.toLowerCase() === 'status') {
      throw new GatewayError('ERR_GATEWAY_BAD_HEADER', 'set the status through startResponse, not a header');
    }
    if (typeof value !== 'string' || !FIELD_VALUE.test(value)) {
      throw new GatewayError('ERR_GATEWAY_BAD_HEADER', `invalid value for header ${name}`);
    }
  }
  return { status, code, headers: headers as HeaderList };
}

/**
 * Why `code` cannot be the status of a response. FastCGI and SCGI carry one final response per
 * request: no protocol switch (101 hands the raw connection over) and no interim response. Front
 * ends given a 1xx pass it on as if final and leave the client waiting for the real response
 * (nginx, Apache; lighttpd for a 101), or send a 500 after it (lighttpd). RFC 9110 §15 puts every
 * status in 100–599; node:http writes up to 999.
 */
function statusError(code: number, status: string): GatewayError {
  if (code >= 100 && code < 200) {
    return new GatewayError(
      'ERR_GATEWAY_SWITCHING_PROTOCOLS',
      code === 101
        ? `status ${JSON.stringify(status)}: FastCGI and SCGI cannot switch protocols (a WebSocket or h2c ` +
            'upgrade needs the raw connection: route it from the front end to a server that speaks it)'
        : `status ${JSON.stringify(status)}: FastCGI and SCGI cannot switch protocols or carry a 1xx ` +
            '(interim) response; answer with a final status, 200–599',
    );
  }
  return new GatewayError(
    'ERR_GATEWAY_BAD_STATUS',
    `status ${JSON.stringify(status)}: ${code} is outside 100–599, the range of HTTP status codes`,
  );
}

/**
 * The head as CGI output, followed by `first` (the start of the body) when given: always an explicit Status line (Apache otherwise answers 200 to a bare
 * Location, and nginx 502s an empty head), then the headers and the blank line.
 */
export function serializeHead(head: ResponseHead, first: Buffer | null = null): Buffer {
  const text = headText(head);
  if (first === null) return Buffer.from(text, 'latin1');
  // One buffer, so that a short response leaves in one write rather than a writev of two.
  const out = Buffer.allocUnsafe(text.length + first.length);
  out.write(text, 0, 'latin1');
  first.copy(out, text.length);
  return out;
}

/** {@link serializeHead} as text: one character per byte (validated heads hold nothing above U+00FF). */
export function headText(head: ResponseHead): string {
  let text = 'Status: ' + head.status + '\r\n';
  for (const [name, value] of head.headers) text += name + ': ' + value + '\r\n';
  if (head.contentLength !== undefined) text += 'Content-Length: ' + head.contentLength + '\r\n';
  return text + '\r\n';
}

/** RFC 9110 §6.4.1: no body for HEAD, 1xx, 204 and 304. */
export function bodyAllowed(method: string, code: number): boolean {
  return method !== 'HEAD' && code >= 200 && code !== 204 && code !== 304;
}

/**
 * The head with a Content-Length for a body whose every byte is known before the head goes out (an
 * array of chunks), as PEP 3333 lets a server add: the front end then frames the response itself
 * instead of chunking it, and a keep-alive client gets a plain length.
 */
export function withContentLength(head: ResponseHead, length: number | undefined): ResponseHead {
  if (length === undefined || head.code < 200 || head.code === 204 || head.code === 304) return head;
  for (const [name] of head.headers) {
    if (name.length === 14 && name.toLowerCase() === 'content-length') return head;
  }
  return { status: head.status, code: head.code, headers: head.headers, contentLength: length };
}
