// Every `sluice serve` setting, one row each: flag, config-file key, unit, default, help, and the limit it feeds.
import { INTERFACE_NAMES, type InterfaceName } from '../common/interfaces';
import {
  address,
  integer,
  mountPrefix,
  nonEmpty,
  octalMode,
  oneOf,
  peers,
  requestPath,
  showOctalMode,
  staticMount,
  switchValue,
  workerCount,
} from './parse';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The settings of one daemon, flags and config file merged; JSON-safe, as workers receive them. */
export interface ServeOptions {
  app?: string;
  scgi: string[];
  fastcgi: string[];
  http: string[];
  mount: string;
  socketMode: number;
  socketOwner?: string;
  socketGroup?: string;
  allow: string[];
  logLevel: LogLevel;
  pretty?: boolean;
  logFile?: string;
  accessLog?: string;
  drainTimeout: number;
  stopGrace: number;
  stopIdle: number;
  maxConnections: number;
  maxHeaderBytes: number;
  /** null: no limit of sluice's own. */
  maxBodyBytes: number | null;
  maxParamsBytes: number;
  maxConnRequests: number;
  maxConcurrent: number;
  bodyMemoryBytes: number;
  spoolMaxBytes: number;
  headerTimeout: number;
  idleTimeout: number;
  requestTimeout: number;
  listenBacklog: number;
  statusPath?: string;
  statusAllow: string[];
  pingPath?: string;
  slowLogMs?: number;
  /** 0: serve in this process, without a primary. */
  workers: number;
  maxRequests?: number;
  maxRequestsJitter?: number;
  maxRss?: number;
  user?: string;
  group?: string;
  pidFile?: string;
  chdir?: string;
  watch: boolean;
  /** What the app module exports; undefined: detected (docs/adapters.md). */
  interface?: InterfaceName;
  /** App errors answered with a page showing the error (development only). */
  debug: boolean;
  /** `PREFIX=DIR`: files the --http listener serves itself (development only). */
  static: string[];
}

/** A setting's name: its config-file key, the camelCase of its long flag, and its `ServeOptions` field. */
export type OptionKey = Exclude<keyof ServeOptions, 'app'>;

/** What a number counts; shown beside it by `check-config` and in docs/limits.md. */
export type Unit = 'bytes' | 'ms' | 'count' | 'MiB';

/** One element of a repeatable setting, or the value itself. */
type Item<V> = V extends readonly (infer E)[] ? E : V;

/** A row as written below; `OptionSpec` is the same with its key. */
interface Row<V> {
  /** Commander flag syntax: `--max-requests <N>`, or `--watch` for a switch; its camelCase is the key. */
  readonly flag: string;
  /** What the setting does; `--help` adds "(default …)" from `default` or `whenUnset`. */
  readonly help: string;
  readonly unit?: Unit;
  /** The value when neither the config file nor a flag gives one: the one place it is written. An array: repeatable. */
  readonly default: V;
  /** What an unset setting means when that is not a value ("detected"): shown as its default. */
  readonly whenUnset?: string;
  /** Checks one value (a flag's text, or a config file's JSON value) and converts it. */
  readonly parse: (value: unknown) => Item<V>;
  /** A value written back as the flag takes it; default `String`. */
  readonly show?: (value: Item<V>) => string;
  /** `--no-x` turns a switch off. */
  readonly negatable?: boolean;
  /** Feeds the runtime `Limits` field of the same name (src/runtime/limits.ts); null there is Infinity. */
  readonly limit?: V extends number | null ? true : never;
  /** A setting of the sluice daemon's own process: `serve()` in a program refuses it, saying this. */
  readonly daemonOnly?: string;
}

/** Why the worker settings mean nothing to `serve()` in a program. */
const NO_WORKERS = "serve() serves in the calling process; worker processes are the sluice daemon's";
/** Why the log settings mean nothing to `serve()` in a program. */
const OWN_LOGGER = "serve() logs to the pino logger given as 'logger' (none: silent)";

const MiB = 1024 * 1024;

/**
 * The table: commander's options, config-file keys, `check-config`'s report, the defaults, `--help`'s
 * "(default …)" and the runtime limits are all made from it; test/settings/table.test.ts holds
 * docs/limits.md and docs/cli.md to it.
 */
export const SETTINGS = {
  scgi: { flag: '--scgi <ADDR>', help: 'listen for SCGI (repeatable)', default: [], parse: address },
  fastcgi: {
    flag: '--fastcgi <ADDR>',
    help: "listen for FastCGI (repeatable); fd:N is an inherited listening socket, and with no listener given a listening socket on fd 0 (a spawning web server's) is served",
    default: [],
    parse: address,
  },
  http: {
    flag: '--http <ADDR>',
    help: 'development listener speaking plain HTTP (repeatable)',
    default: [],
    parse: address,
  },
  mount: {
    flag: '--mount <PREFIX>',
    help: 'SCRIPT_NAME when sluice derives PATH_INFO from REQUEST_URI',
    default: '',
    parse: mountPrefix,
  },
  socketMode: {
    flag: '--socket-mode <MODE>',
    help: 'mode of Unix socket files, octal',
    default: 0o660,
    parse: octalMode,
    show: showOctalMode,
  },
  socketOwner: {
    flag: '--socket-owner <USER>',
    help: 'owner of Unix socket files (name or uid)',
    default: undefined,
    parse: nonEmpty,
  },
  socketGroup: {
    flag: '--socket-group <GROUP>',
    help: 'group of Unix socket files (name or gid)',
    default: undefined,
    parse: nonEmpty,
  },
  allow: {
    flag: '--allow <ADDR[,ADDR...]>',
    help: 'TCP peers allowed to connect (addresses or CIDR ranges, repeatable)',
    default: [],
    whenUnset: 'FCGI_WEB_SERVER_ADDRS, else any',
    parse: peers(false),
  },
  logLevel: {
    flag: '--log-level <LEVEL>',
    help: `log level: ${LOG_LEVELS.join(', ')}`,
    default: 'info',
    parse: oneOf(LOG_LEVELS),
    daemonOnly: OWN_LOGGER,
  },
  pretty: {
    flag: '--pretty',
    help: 'human-readable logs; --no-pretty: JSON even on a terminal',
    default: undefined,
    whenUnset: 'when stderr is a terminal',
    parse: switchValue,
    negatable: true,
    daemonOnly: OWN_LOGGER,
  },
  logFile: {
    flag: '--log-file <FILE>',
    help: 'write the log here instead of stderr (reopened on SIGUSR2)',
    default: undefined,
    parse: nonEmpty,
    daemonOnly: OWN_LOGGER,
  },
  accessLog: {
    flag: '--access-log <FILE>',
    help: 'one JSON line per request to FILE ("-": stdout; reopened on SIGUSR2)',
    default: undefined,
    parse: nonEmpty,
  },
  drainTimeout: {
    flag: '--drain-timeout <MS>',
    help: 'on stop or reload, wait this long for requests in flight',
    unit: 'ms',
    default: 10_000,
    parse: integer(0),
  },
  // A load balancer takes a host out only after its checks fail `fall` times `inter` apart: until
  // then it keeps sending, and connections refused by closed listeners would be its first sign.
  stopGrace: {
    flag: '--stop-grace <MS>',
    help: 'on stop, answer the ping path with 503 for this long while still serving, then drain',
    unit: 'ms',
    default: 0,
    parse: integer(0),
  },
  // FastCGI cannot announce a close: a kept-alive connection closed while idle may cross a request
  // the front end is writing on it. Left open a moment on stop, it serves what still comes.
  stopIdle: {
    flag: '--stop-idle <MS>',
    help: 'FastCGI: on stop, keep an idle kept-alive connection open this long for a request still on its way',
    unit: 'ms',
    default: 300,
    parse: integer(0),
    limit: true,
  },
  maxConnections: {
    flag: '--max-connections <N>',
    help: 'concurrent connections per listener and process',
    unit: 'count',
    default: 10_000,
    parse: integer(1),
    limit: true,
  },
  // The SCGI header block and the HTTP listener's request head (node:http's maxHeaderSize) are one
  // client's headers. FastCGI PARAMS keep their own limit: a multiplexed connection holds up to
  // --max-conn-requests of them at once, and front ends add server variables of their own.
  maxHeaderBytes: {
    flag: '--max-header-bytes <N>',
    help: "largest SCGI header block, and the HTTP listener's request head (FastCGI PARAMS: --max-params-bytes)",
    unit: 'bytes',
    default: MiB,
    parse: integer(1),
    limit: true,
  },
  maxBodyBytes: {
    flag: '--max-body-bytes <N>',
    help: 'largest request body, else 413; the front end usually enforces its own',
    unit: 'bytes',
    default: null,
    parse: integer(0),
    limit: true,
  },
  maxParamsBytes: {
    flag: '--max-params-bytes <N>',
    help: 'FastCGI: largest PARAMS stream of one request; apart from --max-header-bytes, as one connection holds up to --max-conn-requests of them',
    unit: 'bytes',
    default: MiB,
    parse: integer(1),
    limit: true,
  },
  maxConnRequests: {
    flag: '--max-conn-requests <N>',
    help: 'FastCGI: concurrent requests on one connection, announced as FCGI_MAX_REQS',
    unit: 'count',
    default: 256,
    parse: integer(1),
    limit: true,
  },
  maxConcurrent: {
    flag: '--max-concurrent <N>',
    help: 'requests in flight per process; beyond it 503 (FastCGI: FCGI_OVERLOADED)',
    unit: 'count',
    default: 10_000,
    parse: integer(1),
    limit: true,
  },
  bodyMemoryBytes: {
    flag: '--body-memory-bytes <N>',
    help: 'FastCGI: unread body bytes held in memory per multiplexed request before spilling to a temp file',
    unit: 'bytes',
    default: MiB,
    parse: integer(0),
    limit: true,
  },
  spoolMaxBytes: {
    flag: '--spool-max-bytes <N>',
    help: 'the most body bytes all temporary spool files of one process may hold at once; a request that would go over gets a 503 and the rest of its body is discarded',
    unit: 'bytes',
    default: 1024 * MiB,
    parse: integer(0),
    limit: true,
  },
  headerTimeout: {
    flag: '--header-timeout <MS>',
    help: "time to receive a request's headers (SCGI, HTTP) or PARAMS (FastCGI) before closing",
    unit: 'ms',
    default: 30_000,
    parse: integer(1),
    limit: true,
  },
  // Longer than the front ends' own idle timeouts (nginx keepalive_timeout 60s): the side that closes
  // an idle kept connection must be the front end, or a request sent on it meanwhile is lost.
  idleTimeout: {
    flag: '--idle-timeout <MS>',
    help: "FastCGI: close a kept-alive connection idle this long; keep it above the front end's",
    unit: 'ms',
    default: 120_000,
    parse: integer(1),
    limit: true,
  },
  requestTimeout: {
    flag: '--request-timeout <MS>',
    help: "a response not finished within MS: 504 (or cut short) and the app's signal aborted; 0: none",
    unit: 'ms',
    default: 0,
    parse: integer(0),
    limit: true,
  },
  listenBacklog: {
    flag: '--listen-backlog <N>',
    help: 'kernel queue of connections not yet accepted',
    unit: 'count',
    default: 511,
    parse: integer(1),
    limit: true,
  },
  statusPath: {
    flag: '--status-path <PATH>',
    help: "answer this path (as the app would see it) with the daemon's status as JSON, or ?format=prometheus",
    default: undefined,
    parse: requestPath,
  },
  statusAllow: {
    flag: '--status-allow <ADDR[,ADDR...]>',
    help: 'front-end peers the status path answers ("unix" for Unix sockets)',
    default: ['127.0.0.0/8,::1,unix'],
    parse: peers(true),
  },
  pingPath: {
    flag: '--ping-path <PATH>',
    help: 'answer this path with "pong" without running the app',
    default: undefined,
    parse: requestPath,
  },
  slowLogMs: {
    flag: '--slow-log-ms <MS>',
    help: 'log requests that take longer than MS, and count them',
    unit: 'ms',
    default: undefined,
    parse: integer(1),
  },
  workers: {
    flag: '--workers <N|auto>',
    help: 'worker processes under a primary that owns the listeners (auto: one per CPU; 0: serve in this process)',
    unit: 'count',
    default: 1,
    parse: workerCount,
    daemonOnly: NO_WORKERS,
  },
  maxRequests: {
    flag: '--max-requests <N>',
    help: 'replace a worker gracefully after about N requests (PHP-FPM pm.max_requests)',
    unit: 'count',
    default: undefined,
    parse: integer(1),
    daemonOnly: NO_WORKERS,
  },
  maxRequestsJitter: {
    flag: '--max-requests-jitter <N>',
    help: 'add 0..N at random to --max-requests per worker, so workers are not replaced at once',
    unit: 'count',
    default: undefined,
    whenUnset: 'a tenth of --max-requests',
    parse: integer(0),
    daemonOnly: NO_WORKERS,
  },
  maxRss: {
    flag: '--max-rss <MB>',
    help: 'replace a worker gracefully once its resident memory exceeds MB',
    unit: 'MiB',
    default: undefined,
    parse: integer(1),
    daemonOnly: NO_WORKERS,
  },
  user: {
    flag: '--user <USER>',
    help: 'run the app as USER (name or uid) once the sockets are bound',
    default: undefined,
    parse: nonEmpty,
    daemonOnly: 'it would change the user of the whole calling process',
  },
  group: {
    flag: '--group <GROUP>',
    help: 'run the app as GROUP (name or gid) once the sockets are bound',
    default: undefined,
    parse: nonEmpty,
    daemonOnly: 'it would change the group of the whole calling process',
  },
  pidFile: {
    flag: '--pid-file <FILE>',
    help: 'write the PID of the primary (or only) process here',
    default: undefined,
    parse: nonEmpty,
    daemonOnly: "the calling program's pid file is the program's to write",
  },
  chdir: {
    flag: '--chdir <DIR>',
    help: 'change to DIR before loading the app',
    default: undefined,
    parse: nonEmpty,
    daemonOnly:
      'it would change the directory of the whole calling program, and the app is a value, not a module to load',
  },
  watch: {
    flag: '--watch',
    help: "development: reload the workers when a file under the app's directory changes",
    default: false,
    parse: switchValue,
    daemonOnly: NO_WORKERS,
  },
  interface: {
    flag: '--interface <NAME>',
    help: 'what the export is: gateway (environ, startResponse), node (req, res; Express, Koa, Fastify) or fetch (Hono)',
    default: undefined,
    whenUnset: 'detected',
    parse: oneOf(INTERFACE_NAMES),
  },
  debug: {
    flag: '--debug',
    help: 'answer app errors with a page showing the error and stack (development only)',
    default: false,
    parse: switchValue,
  },
  // Only on --http: behind a front end the files are the front end's to serve (docs/deploy.md),
  // which does it from the page cache without waking a Node process.
  static: {
    flag: '--static <PREFIX=DIR>',
    help: 'development: the --http listener answers URL paths under PREFIX with the files in DIR (repeatable; ETag, Range, index.html); SCGI and FastCGI never do',
    default: [],
    parse: staticMount,
  },
} satisfies { readonly [K in OptionKey]: Row<ServeOptions[K]> };

/**
 * Values the runtime `Limits` carry that are not settings: unread request input discarded after a
 * response before the connection is closed anyway, so that the front end sees no reset (Go's fcgi).
 */
export const FIXED_LIMITS = Object.freeze({ lingerBytes: 4 * MiB, lingerTimeout: 5_000 });

/** The settings that feed a field of the runtime `Limits`, by the same name. */
export type LimitKey = {
  [K in OptionKey]: (typeof SETTINGS)[K] extends { readonly limit: true } ? K : never;
}[OptionKey];

/** The settings `serve()` in a program refuses: those of the daemon's own process. */
export type DaemonOnlyKey = {
  [K in OptionKey]: (typeof SETTINGS)[K] extends { readonly daemonOnly: string } ? K : never;
}[OptionKey];

/** A row with its key, as the rest of the code reads the table. */
export interface OptionSpec {
  readonly key: OptionKey;
  readonly flag: string;
  readonly help: string;
  readonly unit?: Unit;
  readonly default: unknown;
  readonly whenUnset?: string;
  readonly parse: (value: unknown) => unknown;
  /** One value (one element of a repeatable setting) as the flag takes it. */
  readonly show: (value: unknown) => string;
  /** Repeatable flag; in a config file a string or an array of strings. */
  readonly list: boolean;
  readonly negatable?: boolean;
  readonly limit?: true;
  readonly daemonOnly?: string;
}

export const OPTIONS: readonly OptionSpec[] = Object.entries(SETTINGS).map(([key, row]) => {
  const { show, ...rest } = row as Row<unknown>;
  return {
    ...rest,
    key: key as OptionKey,
    show: show ?? String,
    list: Array.isArray(row.default),
  } as OptionSpec;
});

export const LIMIT_KEYS = OPTIONS.filter((spec) => spec.limit).map((spec) => spec.key as LimitKey);

/**
 * A value as `--help` and `check-config` write it: "none" for no limit, lists space-separated; unset
 * or empty, what that means in parentheses, else "-".
 */
export function showValue(spec: OptionSpec, value: unknown): string {
  if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) {
    return spec.whenUnset === undefined ? '-' : `(${spec.whenUnset})`;
  }
  if (value === null) return 'none';
  if (Array.isArray(value)) return value.map((item) => spec.show(item)).join(' ');
  return spec.show(value);
}

/** The default `--help` shows, or undefined where there is nothing to say (unset, empty, off). */
export function defaultText(spec: OptionSpec): string | undefined {
  if (spec.whenUnset !== undefined) return spec.whenUnset;
  const value = spec.default;
  if (value === undefined || value === '' || value === false) return undefined;
  if (Array.isArray(value) && value.length === 0) return undefined;
  return showValue(spec, value);
}

/** The row's help with its default: what commander prints. */
export function helpText(spec: OptionSpec): string {
  const shown = defaultText(spec);
  return shown === undefined ? spec.help : `${spec.help} (default ${shown})`;
}
