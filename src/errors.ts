// The error tree and its codes: every error sluice raises carries a stable code that tests and logs key on.
// The codes of every layer are declared here, at the bottom, so that each layer's errors check theirs.

/** Codes of the SCGI parser's ScgiProtocolError; their statuses are SCGI_ERROR_STATUS (src/scgi/errors.ts). */
export type ScgiErrorCode =
  /** The netstring length is empty, has a non-digit or a leading zero, or has more digits than any length could need. */
  | 'ERR_SCGI_BAD_LENGTH'
  /** The netstring length exceeds `maxHeaderBytes`; caught while its digits arrive, before the block is buffered. */
  | 'ERR_SCGI_HEADER_TOO_LARGE'
  /** The byte after the header block is not `,`. */
  | 'ERR_SCGI_MISSING_COMMA'
  /** The header block is not an even number of NUL-terminated strings. */
  | 'ERR_SCGI_ODD_FIELDS'
  /** A header name is empty. */
  | 'ERR_SCGI_EMPTY_NAME'
  /** No CONTENT_LENGTH header at all (an empty block included). */
  | 'ERR_SCGI_CONTENT_LENGTH_MISSING'
  /** CONTENT_LENGTH is present but not the first header. */
  | 'ERR_SCGI_CONTENT_LENGTH_NOT_FIRST'
  /** CONTENT_LENGTH is empty, not only ASCII digits, or beyond what a Number holds exactly. */
  | 'ERR_SCGI_CONTENT_LENGTH_INVALID'
  /** CONTENT_LENGTH is sent more than once (the body length would be ambiguous). */
  | 'ERR_SCGI_CONTENT_LENGTH_DUPLICATE'
  /** The connection ended before the header block and its comma were complete. */
  | 'ERR_SCGI_TRUNCATED'
  /** The connection ended before CONTENT_LENGTH body bytes arrived; the request body fails with this. */
  | 'ERR_SCGI_BODY_TRUNCATED';

/** Codes of the FastCGI parser's FastCgiProtocolError; their meanings are FASTCGI_ERROR_CODES (src/fastcgi/errors.ts). */
export type FastCgiErrorCode =
  | 'ERR_FCGI_BAD_VERSION'
  | 'ERR_FCGI_NOT_FASTCGI'
  | 'ERR_FCGI_TRUNCATED'
  | 'ERR_FCGI_BAD_BEGIN_LENGTH'
  | 'ERR_FCGI_DUPLICATE_REQUEST'
  | 'ERR_FCGI_PARAMS_TOO_LARGE'
  | 'ERR_FCGI_BAD_PAIR'
  | 'ERR_FCGI_STDIN_BEFORE_PARAMS_END'
  | 'ERR_FCGI_DATA_BEFORE_PARAMS_END'
  | 'ERR_FCGI_STREAM_AFTER_END'
  | 'ERR_FCGI_MANAGEMENT_ON_REQUEST_ID'
  | 'ERR_FCGI_UNEXPECTED_TYPE';

/** Codes of sluice/client's ClientError; their kinds are CLIENT_ERROR_KINDS (src/client/errors.ts). */
export type ClientErrorCode =
  /** The connection could not be made: refused, no such socket, unreachable, permission denied. */
  | 'ERR_CLIENT_CONNECT'
  /** Nothing was sent or received for the whole timeout. */
  | 'ERR_CLIENT_TIMEOUT'
  /** The server closed the connection before the response was complete. */
  | 'ERR_CLIENT_CLOSED'
  /** The server sent bytes that are not a FastCGI reply (the cause says which rule broke). */
  | 'ERR_CLIENT_BAD_REPLY'
  /** The CGI response head is malformed: a line without a colon, a bad Status, no header at all. */
  | 'ERR_CLIENT_BAD_HEAD'
  /** The CGI response head exceeds `maxHeadBytes`. */
  | 'ERR_CLIENT_HEAD_TOO_LARGE'
  /** FastCGI END_REQUEST with CANT_MPX_CONN, OVERLOADED or UNKNOWN_ROLE and no output (spec §5.5). */
  | 'ERR_CLIENT_REFUSED'
  /** SCGI needs the body's length first, and a body of unknown length exceeded `maxSpoolBytes`. */
  | 'ERR_CLIENT_LENGTH_REQUIRED'
  /** The request body could not be read, or ended before CONTENT_LENGTH bytes. */
  | 'ERR_CLIENT_BODY'
  /** The caller's AbortSignal fired. */
  | 'ERR_CLIENT_ABORTED';

/** What a code means, and the HTTP status the client gets when it comes before the head (none: omitted). */
export interface CodeInfo {
  readonly status?: number;
  readonly meaning: string;
}

/** The request as it reaches the app, on any listener: CGI variables, the body, load and timeouts. */
const REQUEST_CODES = {
  ERR_CGI_NO_METHOD: { status: 400, meaning: 'REQUEST_METHOD missing' },
  ERR_CGI_DUPLICATE_CONTENT_LENGTH: { status: 400, meaning: 'CONTENT_LENGTH sent twice' },
  ERR_CGI_BAD_LENGTH: {
    status: 400,
    meaning: 'CONTENT_LENGTH or FCGI_DATA_LENGTH is not digits (empty or -1: an unknown length)',
  },
  ERR_BODY_TRUNCATED: { status: 400, meaning: 'the body ended before CONTENT_LENGTH bytes' },
  ERR_BODY_TOO_LARGE: { status: 413, meaning: 'the body is larger than --max-body-bytes' },
  ERR_BODY_SPOOL: { status: 500, meaning: 'the temporary file holding an unread body failed' },
  ERR_SPOOL_FULL: { status: 503, meaning: 'the spool of request bodies is full' },
  ERR_CONNECTION_CLOSED: { meaning: 'the front end closed the connection' },
  ERR_FCGI_ABORTED: { meaning: 'the front end sent FCGI_ABORT_REQUEST' },
  ERR_OVERLOADED: { status: 503, meaning: '--max-concurrent requests in flight' },
  ERR_HEADER_TIMEOUT: { status: 408, meaning: 'the request head did not arrive within --header-timeout' },
  ERR_REQUEST_TIMEOUT: { status: 504, meaning: 'the response was not finished within --request-timeout' },
} as const satisfies Record<string, CodeInfo>;

/**
 * The app broke the gateway contract, or answered what FastCGI and SCGI cannot carry: a 500 before
 * its head went out, a response cut short after.
 */
const GATEWAY_CODES = {
  ERR_GATEWAY_BAD_STATUS: {
    status: 500,
    meaning: 'the status is not `3DIGIT SP reason`, or outside 100–599',
  },
  ERR_GATEWAY_SWITCHING_PROTOCOLS: {
    status: 500,
    meaning:
      'a 1xx status (101 Switching Protocols) as the response: FastCGI and SCGI cannot switch protocols',
  },
  ERR_GATEWAY_BAD_HEADER: {
    status: 500,
    meaning: 'a header that is not a [name, value] pair a front end reads as sent',
  },
  ERR_GATEWAY_START_TWICE: { status: 500, meaning: 'startResponse called again without excInfo' },
  ERR_GATEWAY_NOT_STARTED: {
    status: 500,
    meaning: 'a body chunk, or the end of the body, before startResponse',
  },
  ERR_GATEWAY_BAD_BODY: { status: 500, meaning: 'the app returned neither chunks nor an iterable of chunks' },
  ERR_GATEWAY_BAD_CHUNK: { status: 500, meaning: 'a body chunk is neither a string nor a Uint8Array' },
  ERR_GATEWAY_ABORTED: { meaning: 'write() after the client went away' },
  ERR_GATEWAY_WRITE_AFTER_END: { meaning: 'write() after the response ended' },
} as const satisfies Record<string, CodeInfo>;

/** The Node and fetch adapters, and the middleware. */
const ADAPTER_CODES = {
  ERR_ADAPTER_BAD_HEADER: {
    status: 400,
    meaning: "a request Node's HTTP parser would refuse (unknown method, bad header name or value)",
  },
  ERR_ADAPTER_BAD_URL: { status: 400, meaning: 'no valid URL for the fetch Request' },
  ERR_ADAPTER_BAD_RESPONSE: {
    status: 500,
    meaning: 'the ServerResponse was destroyed before it ended, or ended after an interim head alone',
  },
  ERR_ADAPTER_NOT_A_RESPONSE: {
    status: 500,
    meaning: 'the fetch handler returned something other than a Response',
  },
  ERR_FORM_TOO_LARGE: { status: 413, meaning: 'readForm(): the body is larger than its limit' },
  ERR_SESSION_TOO_LARGE: { meaning: 'sessions(): a cookie over 4 KB; logged, the session not saved' },
  ERR_SESSION_DATA: { meaning: 'sessions(): the session is not a JSON object; logged, not saved' },
  ERR_SESSION_AFTER_START: {
    status: 500,
    meaning: 'sessions(): regenerate() or destroy() after the response started',
  },
} as const satisfies Record<string, CodeInfo>;

/** A command line, configuration or app module that cannot work; no request is involved. */
const STARTUP_CODES = {
  ERR_USAGE_NO_LISTENER: { meaning: 'no listener given, and no socket passed by systemd' },
  ERR_USAGE_NO_APP: { meaning: 'no app module' },
  ERR_USAGE_WATCH: { meaning: '--watch with --workers 0' },
  ERR_USAGE_STOP_GRACE: { meaning: '--stop-grace without --ping-path' },
  ERR_USAGE_LISTEN_FDS: { meaning: 'a malformed LISTEN_FDS, or an inherited socket named for no protocol' },
  ERR_USAGE_USER: { meaning: 'no such user or group' },
  ERR_USAGE_CHDIR: { meaning: '--chdir to a directory that cannot be entered' },
  ERR_USAGE_PID_FILE: { meaning: '--pid-file cannot be written' },
  ERR_USAGE_ADDRESS: { meaning: 'a malformed address, or none to connect to' },
  ERR_USAGE_PROTOCOL: { meaning: 'a protocol other than fastcgi or scgi' },
  ERR_USAGE_TARGET: { meaning: 'a --path that is neither a path nor an http(s) URL' },
  ERR_USAGE_METHOD: { meaning: 'a method that is not an HTTP token' },
  ERR_USAGE_HEADER: { meaning: 'a header that is not `Name: value`' },
  ERR_USAGE_ENV: { meaning: 'an --env that is not NAME=VALUE' },
  ERR_USAGE_DATA: { meaning: 'a -d @file that cannot be read' },
  ERR_USAGE_PING: { meaning: 'ping over SCGI without --path' },
  ERR_USAGE_BRIDGE: { meaning: 'bridge: an unknown option, a bad value, no server' },
  ERR_USAGE_ALLOW: { meaning: 'an --allow entry that is not an IP address or range' },
  ERR_USAGE_STATIC: { meaning: 'a --static directory that is missing, unreadable or not a directory' },
  ERR_INIT_NOT_EMPTY: { meaning: 'sluice init into a directory that holds files, without --force' },
  ERR_INIT_PATH: { meaning: 'sluice init: a directory the deploy snippets cannot name, or no project name' },
  ERR_INIT_TEMPLATE: { meaning: "sluice init: this sluice's templates are missing or broken" },
  ERR_INIT_WRITE: { meaning: 'sluice init: the project cannot be written' },
  ERR_CONFIG_READ: { meaning: 'the --config file cannot be read' },
  ERR_CONFIG_SYNTAX: { meaning: 'the --config file is not a JSON object' },
  ERR_CONFIG_KEY: { meaning: 'a --config key that is no setting' },
  ERR_CONFIG_VALUE: { meaning: 'a --config value that does not fit its key' },
  ERR_EMBEDDED_KEY: { meaning: 'serve() in a program: an option that is no setting' },
  ERR_EMBEDDED_DAEMON_ONLY: { meaning: "serve() in a program: a setting of the daemon's own process" },
  ERR_EMBEDDED_VALUE: { meaning: 'serve() in a program: a value that does not fit its setting' },
  ERR_LISTEN: { meaning: 'a socket cannot be bound, or its path holds a live server or another file' },
  ERR_APP_NOT_FOUND: { meaning: 'the app module does not exist' },
  ERR_APP_PERMISSION: { meaning: 'the app module cannot be read: permission denied' },
  ERR_APP_NO_EXPORT: { meaning: 'the app module lacks the export asked for' },
  ERR_APP_NOT_FUNCTION: { meaning: 'the export is no kind of app' },
  ERR_APP_AMBIGUOUS: { meaning: 'the export has the shape of two kinds of app' },
  ERR_APP_LOAD: { meaning: 'the app module threw while loading' },
  ERR_SESSION_SECRET: { meaning: 'sessions(): no secret, or one shorter than 32 bytes' },
  ERR_SESSION_OPTIONS: {
    meaning: 'sessions(): an unknown store, a bad number, a file store directory that cannot be made',
  },
} as const satisfies Record<string, CodeInfo>;

/** Codes of log lines (and of FastCGI's FCGI_STDERR line) that no error object carries. */
const LOGGED_CODES = {
  ERR_APP: { meaning: 'a response cut short by an error that has no code of its own' },
  ERR_SOCKET_LEFT: { meaning: 'a Unix socket file could not be removed at exit' },
  ERR_SYSTEMD_NOTIFY: { meaning: 'systemd-notify failed' },
} as const satisfies Record<string, CodeInfo>;

export type RequestErrorCode = keyof typeof REQUEST_CODES;
export type GatewayErrorCode = keyof typeof GATEWAY_CODES;
export type AdapterErrorCode = keyof typeof ADAPTER_CODES;
export type StartupErrorCode = keyof typeof STARTUP_CODES;
export type LoggedCode = keyof typeof LOGGED_CODES;

/** Every code an error sluice raises may carry; each is listed once in docs/errors.md. */
export type SluiceErrorCode =
  | ScgiErrorCode
  | FastCgiErrorCode
  | ClientErrorCode
  | RequestErrorCode
  | GatewayErrorCode
  | AdapterErrorCode
  | StartupErrorCode;

/**
 * The codes of this file's areas with their status and meaning: with SCGI_ERROR_STATUS,
 * FASTCGI_ERROR_CODES and CLIENT_ERROR_KINDS, what docs/errors.md is checked against.
 */
export const ERROR_CODES: Readonly<
  Record<RequestErrorCode | GatewayErrorCode | AdapterErrorCode | StartupErrorCode | LoggedCode, CodeInfo>
> = Object.freeze({
  ...REQUEST_CODES,
  ...GATEWAY_CODES,
  ...ADAPTER_CODES,
  ...STARTUP_CODES,
  ...LOGGED_CODES,
});

/** Base of every error sluice raises on purpose. `code` is stable; the message is for people. */
export class SluiceError extends Error {
  readonly code: SluiceErrorCode;

  constructor(code: SluiceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * A front end sent bytes the protocol does not allow. `status` is the HTTP status to answer with
 * when the protocol still allows a response (400, 411, 413); undefined when only closing is left.
 */
export class ProtocolError extends SluiceError {
  readonly status: number | undefined;

  constructor(code: SluiceErrorCode, message: string, status?: number, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
  }
}

/** The app broke the gateway contract (bad status line, header injection, write before start). */
export class GatewayError extends SluiceError {}

/** A command line or configuration that cannot work; the CLI exits with code 2. */
export class UsageError extends SluiceError {}
