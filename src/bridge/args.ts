// `sluice bridge` arguments, parsed by hand: the bridge runs once per request and must not load commander.
import { UsageError } from '../errors';
import type { ClientProtocol } from '../client/types';
import { isValidPassEntry, searchWords } from './env-filter';

export interface BridgeArgs {
  readonly help: boolean;
  /** Where the application server listens (`--connect`, else SLUICE_CONNECT). */
  readonly connect: string;
  readonly protocol: ClientProtocol;
  /** Inactivity limit: connecting, sending, and waiting for each byte of the response. */
  readonly timeoutMs: number;
  /** Extra variables to forward: names, or prefixes ending in `*`. */
  readonly pass: readonly string[];
  /** SCGI: most bytes of a body without CONTENT_LENGTH read into memory to learn its length. */
  readonly maxSpoolBytes: number;
}

export const BRIDGE_DEFAULTS = {
  protocol: 'fastcgi',
  timeoutSeconds: 60,
  maxSpoolBytes: 16 * 1024 * 1024,
} as const;

export const BRIDGE_HELP = `Usage: sluice bridge --connect ADDR [--protocol fastcgi|scgi] [--timeout S] [--pass NAME]...

Runs as a CGI program (Apache mod_cgi, lighttpd mod_cgi, any CGI host): forwards the request in its
environment and on stdin to a sluice daemon, or any FastCGI or SCGI server, and writes the CGI
response to stdout, streaming both ways.

Options:
  --connect ADDR          the server: unix:/path, /path, host:port, [::1]:port (env SLUICE_CONNECT)
  --protocol P            fastcgi (default) or scgi (env SLUICE_PROTOCOL)
  --timeout S             seconds without progress before giving up with a 504 (default ${BRIDGE_DEFAULTS.timeoutSeconds})
  --pass NAME             also forward variable NAME, or every name starting with PREFIX for PREFIX*
                          (repeatable)
  --max-spool-bytes N     SCGI only: largest body without CONTENT_LENGTH read into memory to learn
                          its length; beyond it the answer is 411 (default ${BRIDGE_DEFAULTS.maxSpoolBytes})
  -h, --help              this text

Forwarded variables: the RFC 3875 meta-variables (AUTH_TYPE, CONTENT_LENGTH, CONTENT_TYPE,
GATEWAY_INTERFACE, PATH_INFO, PATH_TRANSLATED, QUERY_STRING, REMOTE_*, REQUEST_METHOD,
SCRIPT_NAME, SERVER_*), HTTP_* except HTTP_PROXY (httpoxy: never forwarded), HTTPS, SSL_*,
SCRIPT_*, REQUEST_*, CONTEXT_*, REDIRECT_*, DOCUMENT_ROOT, UNIQUE_ID. Nothing else (PATH, HOME, …)
unless named with --pass.

Request bodies: with CONTENT_LENGTH they stream. Without it (a chunked upload, announced by
HTTP_TRANSFER_ENCODING) they stream as is over FastCGI and are spooled over SCGI.

Failures: the server down or refusing gives a 502, silence for --timeout seconds a 504, each with a
short body and one line on stderr (the web server's error log).
Arguments that are not options (the script path, words of an indexed query) are ignored.

Exit codes: 0 a response was written (the application's or the bridge's own 502/504), 1 the response
broke off midway, 2 usage error.

Example wrapper script (for ScriptAlias):
  #!/bin/sh
  exec /usr/bin/sluice bridge --connect unix:/run/sluice/fastcgi.sock
`;

const usage = (message: string): UsageError => new UsageError('ERR_USAGE_BRIDGE', message);

function parseProtocol(value: string, from: string): ClientProtocol {
  if (value === 'fastcgi' || value === 'scgi') return value;
  throw usage(`${from} must be fastcgi or scgi, not ${JSON.stringify(value)}`);
}

function parseCount(value: string, flag: string, min: number): number {
  if (!/^\d{1,15}$/.test(value) || Number(value) < min) throw usage(`${flag} expects an integer >= ${min}`);
  return Number(value);
}

/**
 * Parses the arguments after `bridge`. Options end at the first other argument, and the words a CGI
 * host appends for an indexed query (RFC 3875 §4.4) are dropped first: the client chose them.
 */
export function parseBridgeArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): BridgeArgs {
  const words = searchWords(env.GATEWAY_INTERFACE === undefined ? undefined : env.QUERY_STRING);
  let args = argv;
  if (words.length > 0 && words.length <= args.length) {
    const tail = args.slice(args.length - words.length);
    // Apache shell-escapes each word with backslashes (ap_escape_shell_cmd) before exec.
    const same = (word: string, i: number): boolean =>
      word === words[i] || word.replace(/\\(.)/g, '$1') === words[i];
    if (tail.every(same)) args = args.slice(0, args.length - words.length);
  }

  let help = false;
  let connect = env.SLUICE_CONNECT;
  let protocol = env.SLUICE_PROTOCOL ? parseProtocol(env.SLUICE_PROTOCOL, 'SLUICE_PROTOCOL') : undefined;
  let timeoutSeconds: number = BRIDGE_DEFAULTS.timeoutSeconds;
  let maxSpoolBytes: number = BRIDGE_DEFAULTS.maxSpoolBytes;
  const pass: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('-')) break;
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const value = (): string => {
      if (eq !== -1) return arg.slice(eq + 1);
      const next = args[++i];
      if (next === undefined) throw usage(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case '--connect':
        connect = value();
        break;
      case '--protocol':
        protocol = parseProtocol(value(), '--protocol');
        break;
      case '--timeout':
        timeoutSeconds = parseCount(value(), '--timeout', 1);
        break;
      case '--pass': {
        const entry = value();
        if (!isValidPassEntry(entry))
          throw usage(`--pass expects a variable name or PREFIX*, not ${JSON.stringify(entry)}`);
        pass.push(entry);
        break;
      }
      case '--max-spool-bytes':
        maxSpoolBytes = parseCount(value(), '--max-spool-bytes', 0);
        break;
      default:
        throw usage(`unknown option ${flag} (see sluice bridge --help)`);
    }
  }
  if (!help && (connect === undefined || connect === '')) {
    throw usage('no server to forward to: give --connect ADDR or set SLUICE_CONNECT');
  }
  return {
    help,
    connect: connect ?? '',
    protocol: protocol ?? BRIDGE_DEFAULTS.protocol,
    timeoutMs: timeoutSeconds * 1000,
    pass,
    maxSpoolBytes,
  };
}
