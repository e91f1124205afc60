// The gateway interface: the TypeScript form of WSGI (PEP 3333) that every sluice app implements.
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';

/** A body chunk as an app yields it; strings are encoded as UTF-8. */
export type Chunk = string | Uint8Array;

/** Response headers in order, as `[name, value]` pairs; a name may repeat (Set-Cookie). */
export type HeaderList = ReadonlyArray<readonly [string, string]>;

/** Which protocol carried the request to the daemon. */
export type GatewayProtocol = 'scgi' | 'fastcgi' | 'http';

/** The keys sluice adds to every environ, next to the CGI variables (PEP 3333's `wsgi.*`). */
export interface SluiceExtensions {
  /** The request body, with backpressure reaching the socket. */
  'sluice.input': Readable;
  /** Error text of the app: the log (SCGI, HTTP) or FCGI_STDERR records (FastCGI). */
  'sluice.errors': Writable;
  'sluice.url_scheme': 'http' | 'https';
  /** Fires when the front end goes away or aborts the request. */
  'sluice.signal': AbortSignal;
  'sluice.protocol': GatewayProtocol;
  /** The sluice package version. */
  'sluice.version': string;
  'sluice.multithread': boolean;
  'sluice.multiprocess': boolean;
  'sluice.run_once': boolean;
  /** The request's logger (a pino child bound to the request). */
  'sluice.log': Logger;
  /** The config file's `settings` (docs/config.md); absent without them. */
  'sluice.settings'?: Readonly<Record<string, unknown>>;
  /** Set by an `apps` map for the app it picked: SCRIPT_NAME ends with the app's prefix. */
  'sluice.mounted'?: boolean;
}

/**
 * What an app receives: every CGI variable the front end sent, as a latin1-decoded string, plus the
 * `sluice.*` extensions. REQUEST_METHOD, QUERY_STRING, SERVER_PROTOCOL, SCRIPT_NAME and PATH_INFO are
 * always present.
 */
export interface Environ extends SluiceExtensions {
  REQUEST_METHOD: string;
  QUERY_STRING: string;
  SERVER_PROTOCOL: string;
  SCRIPT_NAME: string;
  PATH_INFO: string;
  REQUEST_URI?: string;
  CONTENT_TYPE?: string;
  CONTENT_LENGTH?: string;
  REMOTE_ADDR?: string;
  SERVER_NAME?: string;
  SERVER_PORT?: string;
  HTTPS?: string;
  [variable: string]: unknown;
}

/** Sends a body chunk now; resolves when the socket has taken it (await it for backpressure). */
export type WriteFn = (chunk: Chunk) => Promise<void>;

/**
 * PEP 3333's start_response. Call it once with a status such as `'200 OK'` and the headers; call it
 * again only with `excInfo` (the error being handled) to replace the status before the head was sent.
 */
export type StartResponse = (status: string, headers: HeaderList, excInfo?: unknown) => WriteFn;

/** What an app may return: chunks, an (async) iterable of chunks, or a promise of either. */
export type Body = Chunk | Iterable<Chunk> | AsyncIterable<Chunk>;

export type AppResult = Body | Promise<Body>;

/** A sluice application: PEP 3333's `application(environ, start_response)`. */
export type App = (environ: Environ, startResponse: StartResponse) => AppResult;

/** A middleware wraps an app into another app. */
export type Middleware = (app: App) => App;
