// The CGI environ as a pure function of the variables a front end sent: merged, defaulted, paths derived.
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { ProtocolError } from '../errors';
import { percentDecode } from '../common/latin1';
import { VERSION } from '../common/version';
import type { Cancellation } from './cancellation';
import { ShapeCache } from './shapes';
import type { Environ, GatewayProtocol } from './types';

/** Variables exactly as a front end sent them, flat: [name0, value0, name1, value1, …]. */
export type VariableList = readonly string[];

/** The CGI part of an environ: every variable a string. */
export type CgiVariables = Record<string, string>;

export interface EnvironOptions {
  /** Mount prefix (e.g. `/app`): the SCRIPT_NAME when sluice derives the paths itself. */
  readonly mount: string;
}

/** Name lists this process has seen: most requests repeat one, and then skip the merging loop. */
const shapes = new ShapeCache();

/**
 * Builds the CGI variables of one request. Repeated names are merged (`, `, or `; ` for cookies),
 * as nginx and others send repeated headers as repeated variables; a repeated CONTENT_LENGTH is
 * ambiguous and refused. Only REQUEST_METHOD is required.
 */
export function buildCgiVariables(list: VariableList, options: EnvironOptions): CgiVariables {
  const vars = shapes.build(list) ?? mergeVariables(list);
  if (!vars.REQUEST_METHOD) {
    throw new ProtocolError('ERR_CGI_NO_METHOD', 'REQUEST_METHOD missing', 400);
  }
  const length = vars.CONTENT_LENGTH;
  if (length !== undefined && !LENGTH_DIGITS.test(length)) unknownLength(vars, length);
  vars.QUERY_STRING ??= '';
  vars.SERVER_PROTOCOL ??= 'HTTP/1.0';
  if (vars.PATH_INFO === undefined) derivePaths(vars, options.mount);
  vars.SCRIPT_NAME ??= '';
  vars.REQUEST_URI ??= rebuildRequestUri(vars);
  return vars;
}

const LENGTH_DIGITS = /^\d{1,15}$/;

/**
 * CONTENT_LENGTH empty (nginx for a GET, or for a chunked body with request buffering off) or `-1`
 * (Caddy for a chunked upload) means the length is unknown: the body runs to where the protocol
 * ends it, and the app sees no CONTENT_LENGTH. Left in place as undefined rather than deleted, so the
 * environ keeps the shape its literal was compiled with. Anything else but digits is refused.
 */
function unknownLength(vars: CgiVariables, length: string): void {
  if (length !== '' && length !== '-1') {
    throw new ProtocolError(
      'ERR_CGI_BAD_LENGTH',
      `CONTENT_LENGTH is not a number: ${JSON.stringify(length.slice(0, 40))}`,
      400,
    );
  }
  (vars as Record<string, string | undefined>).CONTENT_LENGTH = undefined;
}

function mergeVariables(list: VariableList): CgiVariables {
  const vars: CgiVariables = {};
  for (let i = 0; i + 1 < list.length; i += 2) {
    const name = list[i];
    const value = list[i + 1];
    // A plain object would take this as its prototype; no front end sends it.
    if (name === '__proto__') continue;
    // Own properties only: `constructor` or `toString` would otherwise merge with Object.prototype's.
    const previous = Object.hasOwn(vars, name) ? vars[name] : undefined;
    if (previous === undefined) {
      vars[name] = value;
    } else if (name === 'CONTENT_LENGTH') {
      throw new ProtocolError('ERR_CGI_DUPLICATE_CONTENT_LENGTH', 'CONTENT_LENGTH sent twice', 400);
    } else {
      vars[name] = previous + (name === 'HTTP_COOKIE' ? '; ' : ', ') + value;
    }
  }
  return vars;
}

/**
 * nginx's stock params and Apache's ProxyPass send no PATH_INFO (Apache puts the whole path in
 * SCRIPT_NAME), so the same app would route differently behind each. Derive both from REQUEST_URI
 * instead: SCRIPT_NAME is the mount prefix when the path lies under it, PATH_INFO the rest.
 */
function derivePaths(vars: CgiVariables, mount: string): void {
  const uri = vars.REQUEST_URI;
  if (uri === undefined) {
    vars.PATH_INFO = '';
    return;
  }
  const path = normalizePath(percentDecode(uriPath(uri)));
  if (
    mount !== '' &&
    path.startsWith(mount) &&
    (path.length === mount.length || path[mount.length] === '/')
  ) {
    vars.SCRIPT_NAME = mount;
    vars.PATH_INFO = path.slice(mount.length);
  } else {
    vars.SCRIPT_NAME = '';
    vars.PATH_INFO = path;
  }
}

/**
 * Merges repeated slashes and resolves `.` and `..` segments (never above the root), as nginx and
 * Apache do before they map a request: otherwise an app checking a prefix of PATH_INFO would see
 * `/public/../admin` where the front end served `/admin`.
 */
export function normalizePath(path: string): string {
  if (!path.includes('//') && !path.includes('/.')) return path;
  const out: string[] = [];
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i];
    if (segment === '..') out.pop();
    else if (segment !== '.' && (segment !== '' || i === segments.length - 1)) out.push(segment);
  }
  const last = segments[segments.length - 1];
  // A path ending in /. or /.. names a directory: keep its trailing slash.
  if ((last === '.' || last === '..') && out[out.length - 1] !== '') out.push('');
  return '/' + out.join('/');
}

/** The path part of a request target: origin form, or absolute form with scheme and authority dropped. */
function uriPath(uri: string): string {
  let start = 0;
  if (uri[0] !== '/') {
    const scheme = uri.indexOf('://');
    if (scheme !== -1) {
      const slash = uri.indexOf('/', scheme + 3);
      if (slash === -1) return '/';
      start = slash;
    }
  }
  const query = uri.indexOf('?', start);
  return query === -1 ? uri.slice(start) : uri.slice(start, query);
}

/** REQUEST_URI for front ends that omit it (cgi-fcgi, some CGI hosts), from the decoded parts. */
function rebuildRequestUri(vars: CgiVariables): string {
  const path = encodeLatin1Path(vars.SCRIPT_NAME + vars.PATH_INFO) || '/';
  return vars.QUERY_STRING === '' ? path : path + '?' + vars.QUERY_STRING;
}

/** A decoded path (one character per byte) percent-encoded again where a URI path needs it. */
export function encodeLatin1Path(path: string): string {
  return path.replace(
    /[^A-Za-z0-9\-._~!$&'()*+,;=:@/]/g,
    (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'),
  );
}

/**
 * A length variable (CONTENT_LENGTH, FCGI_DATA_LENGTH) as a number, or null when it is empty or absent:
 * nginx with request buffering off and Apache streaming a chunked upload send no length, and the
 * body then runs to the end of the stream. Anything else but digits is refused.
 */
export function declaredLength(vars: CgiVariables, name: string): number | null {
  const value = vars[name];
  if (value === undefined || value === '') return null;
  if (!LENGTH_DIGITS.test(value)) {
    throw new ProtocolError(
      'ERR_CGI_BAD_LENGTH',
      `${name} is not a number: ${JSON.stringify(value.slice(0, 40))}`,
      400,
    );
  }
  return Number(value);
}

/** True when the front end says the client connection is TLS (`HTTPS=on`, as Apache and nginx set it). */
export function isHttps(vars: CgiVariables): boolean {
  const https = vars.HTTPS;
  return https !== undefined && (https.toLowerCase() === 'on' || https === '1');
}

/**
 * The per-request parts of an environ that come from the connection rather than the front end.
 * input, errors, signal and log are read whenever the app reads their key, and each read gives the
 * same object: made on the first (most apps never touch some of them, and a stream or an
 * AbortSignal costs more than the rest of a short request), kept for the next.
 */
export interface RequestContext {
  readonly input: Readable;
  readonly errors: Writable;
  readonly signal: AbortSignal;
  /** The flag behind `signal`, when the connection has one: adapters watch it without making the signal. */
  readonly cancellation?: Cancellation;
  readonly log: Logger;
  readonly protocol: GatewayProtocol;
  readonly multiprocess: boolean;
}

/** Where an environ's lazy keys find their request (not enumerable: copies of the environ skip it). */
const CONTEXT = Symbol('sluice.context');

type LazyField = 'input' | 'errors' | 'signal' | 'log';

/**
 * An own, enumerable accessor that reads the request's field, so the environ still behaves as a
 * dict: `{ ...environ }` copies the value, assignment replaces it (with a plain data property).
 * Reading leaves the accessor in place: redefining the key then would put the environ in V8's
 * dictionary mode, slower for every key read after it.
 */
function lazyKey(key: string, field: LazyField): PropertyDescriptor {
  return {
    enumerable: true,
    configurable: true,
    get(this: Record<PropertyKey, unknown>): unknown {
      return (this[CONTEXT] as RequestContext)[field];
    },
    set(this: Record<PropertyKey, unknown>, value: unknown): void {
      settle(this, key, value);
    },
  };
}

function settle(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

const INPUT = lazyKey('sluice.input', 'input');
const ERRORS = lazyKey('sluice.errors', 'errors');
const SIGNAL = lazyKey('sluice.signal', 'signal');
const LOG = lazyKey('sluice.log', 'log');

/** Completes the CGI variables into the environ an app receives (the same object, extended). */
export function createEnviron(vars: CgiVariables, request: RequestContext): Environ {
  const environ = vars as unknown as Environ;
  Object.defineProperty(environ, CONTEXT, { value: request });
  Object.defineProperty(environ, 'sluice.input', INPUT);
  Object.defineProperty(environ, 'sluice.errors', ERRORS);
  environ['sluice.url_scheme'] = isHttps(vars) ? 'https' : 'http';
  Object.defineProperty(environ, 'sluice.signal', SIGNAL);
  environ['sluice.protocol'] = request.protocol;
  environ['sluice.version'] = VERSION;
  // One process runs requests concurrently on one thread: apps may interleave, as under a threaded WSGI server.
  environ['sluice.multithread'] = true;
  environ['sluice.multiprocess'] = request.multiprocess;
  environ['sluice.run_once'] = false;
  Object.defineProperty(environ, 'sluice.log', LOG);
  return environ;
}

/**
 * Calls `listener` once when the front end goes away (at once if it has already). While the app has
 * not replaced `sluice.signal`, this goes through the connection's own flag, which also aborts that
 * signal: an AbortController and its listener cost more than the rest of a short request through
 * the Node adapter. Otherwise it follows the signal the environ holds.
 */
export function onRequestAbort(environ: Environ, listener: () => void): void {
  const context = (environ as unknown as Record<PropertyKey, unknown>)[CONTEXT] as RequestContext | undefined;
  if (
    context?.cancellation !== undefined &&
    Object.getOwnPropertyDescriptor(environ, 'sluice.signal')?.get === SIGNAL.get
  ) {
    context.cancellation.onAbort(listener);
    return;
  }
  const signal = environ['sluice.signal'];
  if (signal.aborted) listener();
  else signal.addEventListener('abort', listener, { once: true });
}
