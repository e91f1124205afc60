// Fakes for gateway tests: an in-memory ResponseTransport, a recording logger and environ builders.
import { Readable, Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { Cancellation } from '../../src/gateway/cancellation';
import { runApp } from '../../src/gateway/driver';
import { buildCgiVariables, createEnviron, type RequestContext } from '../../src/gateway/environ';
import type { ResponseHead } from '../../src/gateway/response-head';
import type { ResponseTransport } from '../../src/gateway/transport';
import type { App, Environ, HeaderList } from '../../src/gateway/types';

/** One call the driver made on the transport; byte payloads as UTF-8 text. */
export type TransportCall =
  | { type: 'head'; status: string; headers: HeaderList; first: string | null }
  | { type: 'body'; data: string }
  | { type: 'end' }
  | { type: 'abort'; error: Error };

export interface FakeTransportOptions {
  /** Every send returns a promise that stays pending until `release()` (or the request is aborted). */
  readonly backpressure?: boolean;
  /** The request's logger (silent unless given). */
  readonly log?: Logger;
}

/**
 * Records every call and every broken transport contract (kept as data, so a violation cannot be
 * mistaken for an app error). Send promises settle at the latest on abort, as a real connection's do.
 */
export class FakeTransport implements ResponseTransport {
  readonly cancellation = new Cancellation();
  readonly log: Logger;
  readonly calls: TransportCall[] = [];
  readonly violations: string[] = [];
  /** Raw chunks as the driver handed them over, head's first chunk included. */
  readonly chunks: Buffer[] = [];
  private readonly backpressure: boolean;
  private readonly waiting: Array<() => void> = [];
  private headSent = false;
  private closed = false;

  constructor(options: FakeTransportOptions = {}) {
    this.backpressure = options.backpressure ?? false;
    this.log = options.log ?? silentLog;
    this.cancellation.onAbort(() => this.releaseAll());
  }

  get signal(): AbortSignal {
    return this.cancellation.signal;
  }

  /** Sends still waiting for the socket to drain. */
  get pending(): number {
    return this.waiting.length;
  }

  sendHead(head: ResponseHead, first: Buffer | null): Promise<void> | undefined {
    if (this.headSent) this.violations.push('sendHead twice');
    if (this.closed) this.violations.push('sendHead after end/abort');
    if (first !== null && first.length === 0) this.violations.push('empty first chunk');
    this.headSent = true;
    if (first !== null) this.chunks.push(first);
    this.calls.push({
      type: 'head',
      status: head.status,
      headers: head.headers,
      first: first === null ? null : first.toString('utf8'),
    });
    return this.wait();
  }

  sendBody(chunk: Buffer): Promise<void> | undefined {
    if (!this.headSent) this.violations.push('sendBody before sendHead');
    if (this.closed) this.violations.push('sendBody after end/abort');
    if (chunk.length === 0) this.violations.push('empty body chunk');
    this.chunks.push(chunk);
    this.calls.push({ type: 'body', data: chunk.toString('utf8') });
    return this.wait();
  }

  end(): void {
    if (!this.headSent) this.violations.push('end before sendHead');
    if (this.closed) this.violations.push('end after end/abort');
    this.closed = true;
    this.calls.push({ type: 'end' });
  }

  abort(error: Error): void {
    if (!this.headSent) this.violations.push('abort before sendHead');
    if (this.closed) this.violations.push('abort after end/abort');
    this.closed = true;
    this.calls.push({ type: 'abort', error });
  }

  /** The front end goes away. */
  abortRequest(): void {
    this.cancellation.abort();
  }

  /** The socket drains: the oldest waiting send resolves. */
  release(): void {
    this.waiting.shift()?.();
  }

  releaseAll(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }

  private wait(): Promise<void> | undefined {
    if (!this.backpressure || this.cancellation.aborted) return undefined;
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

/** A logger that drops everything. */
export const silentLog: Logger = pino({ level: 'silent' });

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly code?: string;
  readonly [key: string]: unknown;
}

/** A debug-level pino logger whose lines are parsed into `lines`. */
export function recordingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino(
    { level: 'debug' },
    { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
  );
  return { log, lines };
}

/** pino's numeric levels, for assertions on LogLine.level. */
export const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;

/** CGI variables as a flat name/value list, from an object (for tables). */
export function variableList(vars: Record<string, string>): string[] {
  return Object.entries(vars).flat();
}

export interface EnvironOverrides {
  readonly vars?: Record<string, string>;
  readonly signal?: AbortSignal;
  /** The flag behind `signal`, as a connection offers it (adapters then watch it instead). */
  readonly cancellation?: Cancellation;
  readonly input?: Readable;
  readonly log?: Logger;
  readonly mount?: string;
}

/** A complete environ for a GET / unless `vars` says otherwise. */
export function makeEnviron(overrides: EnvironOverrides = {}): Environ {
  const vars = buildCgiVariables(
    variableList({ REQUEST_METHOD: 'GET', REQUEST_URI: '/', SERVER_PROTOCOL: 'HTTP/1.1', ...overrides.vars }),
    { mount: overrides.mount ?? '' },
  );
  const context: RequestContext = {
    input: overrides.input ?? Readable.from([]),
    errors: new Writable({ write: (_chunk, _encoding, callback) => callback() }),
    signal: overrides.signal ?? new AbortController().signal,
    cancellation: overrides.cancellation,
    protocol: 'scgi',
    log: overrides.log ?? silentLog,
    multiprocess: false,
  };
  return createEnviron(vars, context);
}

export interface RunOptions {
  readonly method?: string;
  readonly transport?: FakeTransport;
  /** The logger of the transport made here (a given transport brings its own). */
  readonly log?: Logger;
}

/** Runs `app` to completion over a fake transport (made here unless given). */
export async function run(app: App, options: RunOptions = {}): Promise<FakeTransport> {
  const transport = options.transport ?? new FakeTransport({ log: options.log });
  const environ = makeEnviron({
    vars: { REQUEST_METHOD: options.method ?? 'GET' },
    signal: transport.signal,
  });
  await runApp(app, environ, transport);
  return transport;
}

/** Lets queued promise callbacks and immediates run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A promise with its resolve and reject exposed. */
export function deferred<T>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** The calls of a plain 500 response as the driver sends it. */
export const INTERNAL_ERROR: TransportCall[] = [
  {
    type: 'head',
    status: '500 Internal Server Error',
    headers: [
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Content-Length', '22'],
    ],
    first: 'Internal Server Error\n',
  },
  { type: 'end' },
];
