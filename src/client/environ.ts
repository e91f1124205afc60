// The CGI variables of a request described the way curl takes one: method, path or URL, headers, body length.
import { percentDecode } from '../common/latin1';
import { UsageError } from '../errors';
import { VERSION } from '../common/version';

export interface RequestDescription {
  /** Default GET. */
  readonly method?: string;
  /**
   * A path with an optional query (`/x?y=1`), or an http(s) URL whose scheme, host and port set
   * HTTPS, HTTP_HOST, SERVER_NAME and SERVER_PORT. Sent as written: no normalisation.
   */
  readonly target: string;
  /** Request headers, in order; Content-Type and Content-Length become CONTENT_TYPE and CONTENT_LENGTH. */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  /** Body length; undefined for a request without a body. */
  readonly contentLength?: number;
  /** Variables set last, replacing any of the same name (SCRIPT_FILENAME for PHP-FPM, REMOTE_ADDR, …). */
  readonly env?: ReadonlyArray<readonly [string, string]>;
}

/** A target split the way a front end sees it. */
export interface ParsedTarget {
  readonly https: boolean;
  /** Host as written in the URL (with its port, IPv6 in brackets): the Host header. */
  readonly host: string;
  /** Host name alone, brackets removed. */
  readonly serverName: string;
  readonly port: number;
  /** Path and query as written (REQUEST_URI); the fragment is dropped, as a browser would. */
  readonly requestUri: string;
  readonly path: string;
  readonly query: string;
}

// RFC 9110 §5.6.2 token characters: what a header name may hold.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const METHOD = TOKEN;
const URL_FORM = /^(https?):\/\/([^/?#]*)(.*)$/i;
const AUTHORITY = /^(?:[^@/]*@)?(\[[0-9A-Fa-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/;

/** Splits a path or URL; throws UsageError (ERR_USAGE_TARGET) on anything else. */
export function parseTarget(target: string): ParsedTarget {
  let https = false;
  let host = 'localhost';
  let serverName = 'localhost';
  let port = 80;
  let rest = target;
  const url = URL_FORM.exec(target);
  if (url !== null) {
    https = url[1].toLowerCase() === 'https';
    const authority = AUTHORITY.exec(url[2]);
    if (authority === null || (authority[2] !== undefined && Number(authority[2]) > 65535)) {
      throw new UsageError('ERR_USAGE_TARGET', `bad host in ${JSON.stringify(target)}`);
    }
    serverName = authority[1].replace(/^\[|\]$/g, '');
    port = authority[2] !== undefined ? Number(authority[2]) : https ? 443 : 80;
    host = url[2].slice(url[2].indexOf('@') + 1);
    rest = url[3] === '' || url[3][0] !== '/' ? '/' + url[3] : url[3];
  } else if (!target.startsWith('/')) {
    throw new UsageError(
      'ERR_USAGE_TARGET',
      `expected a path starting with / or an http(s):// URL, got ${JSON.stringify(target)}`,
    );
  }
  const hash = rest.indexOf('#');
  const requestUri = hash === -1 ? rest : rest.slice(0, hash);
  const question = requestUri.indexOf('?');
  return {
    https,
    host,
    serverName,
    port,
    requestUri,
    path: question === -1 ? requestUri : requestUri.slice(0, question),
    query: question === -1 ? '' : requestUri.slice(question + 1),
  };
}

/** `X-Forwarded-For` → `HTTP_X_FORWARDED_FOR` (RFC 3875 §4.1.18). */
export function headerVariableName(name: string): string {
  return 'HTTP_' + name.toUpperCase().replace(/-/g, '_');
}

/**
 * The CGI variables a front end would send for this request (RFC 3875 §4.1, with REQUEST_URI,
 * REQUEST_SCHEME and HTTPS as nginx and Apache add them). SCRIPT_NAME is the decoded path and
 * PATH_INFO is left out, as nginx's stock fastcgi_params do; repeated headers are merged
 * (`, `, or `; ` for Cookie). Throws UsageError on a bad method, target or header name.
 */
export function requestEnviron(request: RequestDescription): Array<[string, string]> {
  const method = request.method ?? 'GET';
  if (!METHOD.test(method)) throw new UsageError('ERR_USAGE_METHOD', `bad method ${JSON.stringify(method)}`);
  const target = parseTarget(request.target);
  const vars = new Map<string, string>([
    ['GATEWAY_INTERFACE', 'CGI/1.1'],
    ['SERVER_SOFTWARE', `sluice/${VERSION}`],
    ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['REQUEST_METHOD', method],
    ['REQUEST_URI', target.requestUri],
    ['SCRIPT_NAME', percentDecode(target.path)],
    ['QUERY_STRING', target.query],
    ['REQUEST_SCHEME', target.https ? 'https' : 'http'],
    ['SERVER_NAME', target.serverName],
    ['SERVER_PORT', String(target.port)],
    ['REMOTE_ADDR', '127.0.0.1'],
    ['REMOTE_PORT', '0'],
    ['HTTP_HOST', target.host],
  ]);
  if (target.https) vars.set('HTTPS', 'on');
  if (request.contentLength !== undefined) vars.set('CONTENT_LENGTH', String(request.contentLength));
  const seen = new Set<string>();
  for (const [name, value] of request.headers ?? []) {
    if (!TOKEN.test(name))
      throw new UsageError('ERR_USAGE_HEADER', `bad header name ${JSON.stringify(name)}`);
    const lower = name.toLowerCase();
    const variable =
      lower === 'content-type'
        ? 'CONTENT_TYPE'
        : lower === 'content-length'
          ? 'CONTENT_LENGTH'
          : headerVariableName(name);
    const previous = seen.has(variable) ? vars.get(variable) : undefined;
    seen.add(variable);
    vars.set(
      variable,
      previous === undefined ? value : previous + (variable === 'HTTP_COOKIE' ? '; ' : ', ') + value,
    );
  }
  for (const [name, value] of request.env ?? []) vars.set(name, value);
  return [...vars];
}
