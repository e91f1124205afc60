// Which of the bridge's environment variables are CGI variables to forward, and which stay behind.

/**
 * Forwarded by exact name: the RFC 3875 §4.1 meta-variables, and what Apache, lighttpd and nginx add
 * beside them. The process's own variables (PATH, HOME, LANG, …) are never among them.
 */
export const CGI_NAMES: readonly string[] = Object.freeze([
  'AUTH_TYPE',
  'CONTENT_LENGTH',
  'CONTENT_TYPE',
  'GATEWAY_INTERFACE',
  'PATH_INFO',
  'PATH_TRANSLATED',
  'QUERY_STRING',
  'REMOTE_ADDR',
  'REMOTE_HOST',
  'REMOTE_IDENT',
  'REMOTE_USER',
  'REQUEST_METHOD',
  'SCRIPT_NAME',
  'SERVER_NAME',
  'SERVER_PORT',
  'SERVER_PROTOCOL',
  'SERVER_SOFTWARE',
  'HTTPS',
  'DOCUMENT_ROOT',
  'UNIQUE_ID',
]);

/**
 * Forwarded by prefix: request headers (RFC 3875 §4.1.18), TLS details (mod_ssl), the remote and
 * server sides, Apache's CONTEXT_* and the REDIRECT_* copies of an internal redirect.
 */
export const CGI_PREFIXES: readonly string[] = Object.freeze([
  'HTTP_',
  'SSL_',
  'REMOTE_',
  'SCRIPT_',
  'REQUEST_',
  'SERVER_',
  'CONTEXT_',
  'REDIRECT_',
]);

/**
 * Never forwarded, even when asked: a client's `Proxy:` header arrives as HTTP_PROXY, which many
 * HTTP libraries take for their proxy setting (httpoxy, CVE-2016-5385).
 */
export const NEVER_FORWARDED: readonly string[] = Object.freeze(['HTTP_PROXY']);

/** A `--pass` entry: a variable name, or a prefix ending in `*`. */
const PASS_ENTRY = /^[A-Za-z_][A-Za-z0-9_]*\*?$/;

export function isValidPassEntry(entry: string): boolean {
  return PASS_ENTRY.test(entry);
}

/** Whether `name` is forwarded, given the extra `--pass` entries (names, or prefixes ending in `*`). */
export function isForwarded(name: string, pass: readonly string[] = []): boolean {
  if (NEVER_FORWARDED.includes(name)) return false;
  if (CGI_NAMES.includes(name)) return true;
  if (CGI_PREFIXES.some((prefix) => name.startsWith(prefix))) return true;
  return pass.some((entry) => (entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : name === entry));
}

/** The CGI variables among `env`, in its order: what the bridge sends on. */
export function cgiVariablesFrom(
  env: Readonly<Record<string, string | undefined>>,
  pass: readonly string[] = [],
): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && isForwarded(name, pass)) out.push([name, value]);
  }
  return out;
}

/**
 * The words a CGI host appends to a script's command line for an "indexed" query, one without an
 * unencoded `=` (RFC 3875 §4.4): `+`-separated, each percent-decoded. They come from the client, so
 * the bridge must not read them as options.
 */
export function searchWords(queryString: string | undefined): string[] {
  if (queryString === undefined || queryString === '' || queryString.includes('=')) return [];
  return queryString.split('+').map((word) => {
    try {
      return decodeURIComponent(word);
    } catch {
      return word;
    }
  });
}
