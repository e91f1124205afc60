// The environ written back as the HTTP/1.1 request head Node's own parser reads for the Node adapter.
import { ProtocolError } from '../errors';
import { declaredLength, type CgiVariables } from '../gateway/environ';
import type { Environ } from '../gateway/types';
import { appTarget } from './target';

/** How the request body is framed after the head. */
export type BodyFraming = 'none' | 'length' | 'chunked';

export interface RequestHead {
  readonly bytes: Buffer;
  readonly framing: BodyFraming;
}

// Headers the daemon frames itself or that belong to the hop between client and front end: the
// body is re-framed here, and the connection to Node's parser is private to one request.
const SKIPPED = new Set([
  'HTTP_CONTENT_LENGTH',
  'HTTP_CONTENT_TYPE',
  'HTTP_TRANSFER_ENCODING',
  'HTTP_CONNECTION',
  'HTTP_KEEP_ALIVE',
]);

// Bytes a request target may not hold on the wire; front ends pass REQUEST_URI raw, but some decode it.
const UNSAFE_TARGET = /[^\x21-\x7e]/;

/**
 * Calls `fn` with each request header the environ describes: HTTP_* variables as lower-case names
 * (the original spelling is lost in CGI), then CONTENT_TYPE; never the framing or connection headers.
 */
export function forEachHeader(environ: Environ, fn: (name: string, value: string) => void): void {
  const vars = environ as unknown as CgiVariables;
  for (const name in vars) {
    if (name.length <= 5 || !name.startsWith('HTTP_') || SKIPPED.has(name)) continue;
    const value = vars[name];
    if (typeof value === 'string') fn(name.slice(5).toLowerCase().replace(/_/g, '-'), value);
  }
  if (environ.CONTENT_TYPE) fn('content-type', environ.CONTENT_TYPE);
}

/**
 * Whether a request whose CONTENT_LENGTH is unknown (absent, empty, or Caddy's `-1`) may carry a body.
 * Front ends that stream such a body end it where the protocol ends it, and not all of them say so:
 * Caddy never sends Transfer-Encoding, nginx sends none for an HTTP/2 client. So every method may
 * have one, except GET and HEAD without a Transfer-Encoding header: those are what nginx and Apache
 * send for every plain GET, and an app must not wait for (or parse) a body there.
 */
export function bodyOfUnknownLength(environ: Environ): boolean {
  const method = environ.REQUEST_METHOD;
  return (
    (method !== 'GET' && method !== 'HEAD') ||
    (environ as unknown as CgiVariables).HTTP_TRANSFER_ENCODING !== undefined
  );
}

/**
 * Serializes the request line and headers: HTTP_* variables as lower-case header names, CONTENT_TYPE
 * and CONTENT_LENGTH, or `Transfer-Encoding: chunked` when the length is unknown and the request may
 * have a body ({@link bodyOfUnknownLength}): Node's parser then reads whatever arrives, and body
 * parsers that look for either header (type-is's hasBody) read it too. A value with CR, LF or NUL
 * would split the head, so it is refused with 400.
 */
export function requestHead(environ: Environ): RequestHead {
  const vars = environ as unknown as CgiVariables;
  const version = environ.SERVER_PROTOCOL === 'HTTP/1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
  let head = `${environ.REQUEST_METHOD} ${requestTarget(appTarget(environ))} ${version}\r\n`;
  forEachHeader(environ, (name, value) => (head += header(name, value)));
  const length = declaredLength(vars, 'CONTENT_LENGTH');
  let framing: BodyFraming = 'none';
  if (length !== null) {
    head += `content-length: ${length}\r\n`;
    framing = 'length';
  } else if (bodyOfUnknownLength(environ)) {
    head += 'transfer-encoding: chunked\r\n';
    framing = 'chunked';
  }
  return { bytes: Buffer.from(head + '\r\n', 'latin1'), framing };
}

function header(name: string, value: string): string {
  if (value.includes('\r') || value.includes('\n') || value.includes('\0')) {
    throw new ProtocolError('ERR_ADAPTER_BAD_HEADER', `header ${name} holds CR, LF or NUL`, 400);
  }
  return name + ': ' + value + '\r\n';
}

/** REQUEST_URI with any byte outside visible ASCII percent-encoded (one character per latin1 byte). */
function requestTarget(uri: string): string {
  if (!UNSAFE_TARGET.test(uri)) return uri;
  return uri.replace(
    /[^\x21-\x7e]/g,
    (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'),
  );
}
