// The request headers the environ describes, as the Node and fetch adapters hand them to an app.
import { METHODS } from 'node:http';
import { ProtocolError } from '../errors';
import { declaredLength, type CgiVariables } from '../gateway/environ';
import type { Environ } from '../gateway/types';

/** How the request body is framed after the head. */
export type BodyFraming = 'none' | 'length' | 'chunked';

/** What the Node adapter builds its IncomingMessage from. */
export interface RequestHead {
  /** Names and values in turn, names lower-case, as `IncomingMessage.rawHeaders`. */
  readonly rawHeaders: string[];
  readonly framing: BodyFraming;
}

// Headers the daemon frames itself or that belong to the hop between client and front end: the
// adapters frame the body themselves, and no connection of the client's reaches the app.
const SKIPPED = new Set([
  'HTTP_CONTENT_LENGTH',
  'HTTP_CONTENT_TYPE',
  'HTTP_TRANSFER_ENCODING',
  'HTTP_CONNECTION',
  'HTTP_KEEP_ALIVE',
]);

// Bytes a request target may not hold on the wire; front ends pass REQUEST_URI raw, but some decode it.
const UNSAFE_TARGET = /[^\x21-\x7e]/;

// What Node's HTTP parser (llhttp, strict) takes: a token as the name, HTAB, SP, visible ASCII and
// obs-text in a value. A node:http server answers anything else 400, and so does the adapter.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** The methods Node's parser knows; it refuses any other with 400. */
const KNOWN_METHODS = new Set(METHODS);

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
 * The request's headers as a node:http server would parse them from a front end's request: HTTP_*
 * variables as lower-case names, CONTENT_TYPE and CONTENT_LENGTH, or `transfer-encoding: chunked`
 * when the length is unknown and the request may have a body ({@link bodyOfUnknownLength}): body
 * parsers that look for either header (type-is's hasBody) then read whatever arrives. What Node's
 * parser would refuse (an unknown method, a name that is no token, a value with CR, LF, NUL or another
 * control character) is refused with 400.
 */
export function requestHead(environ: Environ): RequestHead {
  if (!KNOWN_METHODS.has(environ.REQUEST_METHOD)) {
    throw new ProtocolError(
      'ERR_ADAPTER_BAD_HEADER',
      `method ${JSON.stringify(environ.REQUEST_METHOD.slice(0, 40))} is not one Node's HTTP parser knows`,
      400,
    );
  }
  const rawHeaders: string[] = [];
  forEachHeader(environ, (name, value) => rawHeaders.push(checkedName(name), checkedValue(name, value)));
  const length = declaredLength(environ as unknown as CgiVariables, 'CONTENT_LENGTH');
  let framing: BodyFraming = 'none';
  if (length !== null) {
    rawHeaders.push('content-length', String(length));
    framing = 'length';
  } else if (bodyOfUnknownLength(environ)) {
    rawHeaders.push('transfer-encoding', 'chunked');
    framing = 'chunked';
  }
  return { rawHeaders, framing };
}

function checkedName(name: string): string {
  if (!TOKEN.test(name)) {
    throw new ProtocolError(
      'ERR_ADAPTER_BAD_HEADER',
      `header name ${JSON.stringify(name)} is not a token`,
      400,
    );
  }
  return name;
}

/** The value as Node's parser stores it: checked, without surrounding blanks. */
function checkedValue(name: string, value: string): string {
  if (BAD_VALUE.test(value)) {
    throw new ProtocolError(
      'ERR_ADAPTER_BAD_HEADER',
      `header ${name} holds CR, LF, NUL or another control character`,
      400,
    );
  }
  const last = value.length - 1;
  if (last >= 0 && (isBlank(value.charCodeAt(0)) || isBlank(value.charCodeAt(last)))) {
    return value.replace(/^[ \t]+|[ \t]+$/g, '');
  }
  return value;
}

function isBlank(code: number): boolean {
  return code === 32 || code === 9;
}

/** REQUEST_URI with any byte outside visible ASCII percent-encoded (one character per latin1 byte). */
export function requestTarget(uri: string): string {
  if (!UNSAFE_TARGET.test(uri)) return uri;
  return uri.replace(
    /[^\x21-\x7e]/g,
    (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'),
  );
}
