// Every `sluice serve` setting in one table: its flag, its config-file key, how a value is checked, its default.
import os from 'node:os';
import { parseAddress } from '../common/address';
import { peerFilter } from '../common/allow';
import { INTERFACE_NAMES, type InterfaceName } from '../common/interfaces';
import { DEFAULT_LIMITS, resolveLimits, type Limits } from '../runtime/limits';

/** A value that does not fit its setting; the caller names the flag or key. */
export class BadValue extends Error {}

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
  maxConnections: number;
  maxHeaderBytes: number;
  /** null: no limit of sluice's own. */
  maxBodyBytes: number | null;
  maxParamsBytes: number;
  maxConnRequests: number;
  maxConcurrent: number;
  bodyMemoryBytes: number;
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
}

export type OptionKey = Exclude<keyof ServeOptions, 'app'>;

export interface OptionSpec {
  readonly key: OptionKey;
  /** Commander flag syntax: `--max-requests <N>`, or `--watch` for a switch. */
  readonly flag: string;
  readonly help: string;
  /** Checks one value (a flag's text, or a config file's JSON value) and converts it. */
  readonly parse: (value: unknown) => unknown;
  /** Repeatable flag; in a config file a string or an array of strings. */
  readonly list?: boolean;
  /** `--no-x` turns a switch off. */
  readonly negatable?: boolean;
}

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new BadValue('expected a string or a number');
}

function integer(min: number) {
  return (value: unknown): number => {
    const digits = text(value);
    if (!/^\d{1,15}$/.test(digits) || Number(digits) < min) {
      throw new BadValue(`expected an integer >= ${min}`);
    }
    return Number(digits);
  };
}

function octalMode(value: unknown): number {
  if (typeof value !== 'string' || !/^0?[0-7]{3}$/.test(value)) {
    throw new BadValue('expected an octal mode as a string, such as "0660"');
  }
  return parseInt(value, 8);
}

function mountPrefix(value: unknown): string {
  const prefix = text(value);
  if (prefix === '' || prefix === '/') return '';
  if (!prefix.startsWith('/')) throw new BadValue('a mount prefix starts with /');
  return prefix.replace(/\/+$/, '');
}

function requestPath(value: unknown): string {
  const path = text(value);
  if (!path.startsWith('/')) throw new BadValue('a path starts with /');
  return path;
}

function address(value: unknown): string {
  const spec = text(value);
  try {
    parseAddress(spec);
  } catch (error) {
    throw new BadValue((error as Error).message);
  }
  return spec;
}

/** Addresses or CIDR ranges; `unix` stands for front ends on Unix sockets where that is allowed. */
function peers(allowUnix: boolean) {
  return (value: unknown): string => {
    const spec = text(value);
    const entries = spec.split(',').map((s) => s.trim());
    try {
      peerFilter(allowUnix ? entries.filter((e) => e !== 'unix') : entries);
    } catch (error) {
      throw new BadValue((error as Error).message);
    }
    return spec;
  };
}

function nonEmpty(value: unknown): string {
  const s = text(value);
  if (s === '') throw new BadValue('expected a non-empty string');
  return s;
}

function workerCount(value: unknown): number {
  if (value === 'auto') return os.availableParallelism();
  return integer(0)(value);
}

function switchValue(value: unknown): boolean {
  if (typeof value !== 'boolean') throw new BadValue('expected true or false');
  return value;
}

function interfaceName(value: unknown): InterfaceName {
  if (typeof value !== 'string' || !(INTERFACE_NAMES as readonly string[]).includes(value)) {
    throw new BadValue(`expected one of ${INTERFACE_NAMES.join(', ')}`);
  }
  return value as InterfaceName;
}

function logLevel(value: unknown): LogLevel {
  if (typeof value !== 'string' || !(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new BadValue(`expected one of ${LOG_LEVELS.join(', ')}`);
  }
  return value as LogLevel;
}

export const DEFAULTS: Omit<ServeOptions, 'app'> = {
  scgi: [],
  fastcgi: [],
  http: [],
  mount: '',
  socketMode: 0o660,
  allow: [],
  logLevel: 'info',
  drainTimeout: 10_000,
  maxConnections: DEFAULT_LIMITS.maxConnections,
  maxHeaderBytes: DEFAULT_LIMITS.maxHeaderBytes,
  maxBodyBytes: null,
  maxParamsBytes: DEFAULT_LIMITS.maxParamsBytes,
  maxConnRequests: DEFAULT_LIMITS.maxConnRequests,
  maxConcurrent: DEFAULT_LIMITS.maxConcurrent,
  bodyMemoryBytes: DEFAULT_LIMITS.bodyMemoryBytes,
  headerTimeout: DEFAULT_LIMITS.headerTimeout,
  idleTimeout: DEFAULT_LIMITS.idleTimeout,
  requestTimeout: DEFAULT_LIMITS.requestTimeout,
  listenBacklog: DEFAULT_LIMITS.listenBacklog,
  statusAllow: ['127.0.0.0/8,::1,unix'],
  workers: 1,
  watch: false,
  debug: false,
};

/** The table: commander options and config-file keys are both made from it. */
export const OPTIONS: readonly OptionSpec[] = [
  { key: 'scgi', flag: '--scgi <ADDR>', help: 'listen for SCGI (repeatable)', parse: address, list: true },
  {
    key: 'fastcgi',
    flag: '--fastcgi <ADDR>',
    help: 'listen for FastCGI (repeatable)',
    parse: address,
    list: true,
  },
  {
    key: 'http',
    flag: '--http <ADDR>',
    help: 'development listener speaking plain HTTP (repeatable)',
    parse: address,
    list: true,
  },
  {
    key: 'mount',
    flag: '--mount <PREFIX>',
    help: 'SCRIPT_NAME when sluice derives PATH_INFO from REQUEST_URI',
    parse: mountPrefix,
  },
  {
    key: 'socketMode',
    flag: '--socket-mode <MODE>',
    help: 'mode of Unix socket files, octal (default 0660)',
    parse: octalMode,
  },
  {
    key: 'socketOwner',
    flag: '--socket-owner <USER>',
    help: 'owner of Unix socket files (name or uid)',
    parse: nonEmpty,
  },
  {
    key: 'socketGroup',
    flag: '--socket-group <GROUP>',
    help: 'group of Unix socket files (name or gid)',
    parse: nonEmpty,
  },
  {
    key: 'allow',
    flag: '--allow <ADDR[,ADDR...]>',
    help: 'TCP peers allowed to connect (addresses or CIDR ranges, repeatable; default: FCGI_WEB_SERVER_ADDRS, else any)',
    parse: peers(false),
    list: true,
  },
  {
    key: 'logLevel',
    flag: '--log-level <LEVEL>',
    help: `log level: ${LOG_LEVELS.join(', ')} (default info)`,
    parse: logLevel,
  },
  {
    key: 'pretty',
    flag: '--pretty',
    help: 'human-readable logs (default when stderr is a terminal; --no-pretty: JSON even then)',
    parse: switchValue,
    negatable: true,
  },
  {
    key: 'logFile',
    flag: '--log-file <FILE>',
    help: 'write the log here instead of stderr (reopened on SIGUSR2)',
    parse: nonEmpty,
  },
  {
    key: 'accessLog',
    flag: '--access-log <FILE>',
    help: 'one JSON line per request to FILE ("-": stdout; reopened on SIGUSR2)',
    parse: nonEmpty,
  },
  {
    key: 'drainTimeout',
    flag: '--drain-timeout <MS>',
    help: 'on stop or reload, wait this long for requests in flight (default 10000)',
    parse: integer(0),
  },
  {
    key: 'maxConnections',
    flag: '--max-connections <N>',
    help: 'concurrent connections per listener and process (default 10000)',
    parse: integer(1),
  },
  {
    key: 'maxHeaderBytes',
    flag: '--max-header-bytes <N>',
    help: 'largest SCGI header block (default 1048576)',
    parse: integer(1),
  },
  {
    key: 'maxBodyBytes',
    flag: '--max-body-bytes <N>',
    help: 'largest request body, else 413 (default: no limit; the front end enforces its own)',
    parse: integer(0),
  },
  {
    key: 'maxParamsBytes',
    flag: '--max-params-bytes <N>',
    help: 'FastCGI: largest PARAMS stream of one request (default 1048576)',
    parse: integer(1),
  },
  {
    key: 'maxConnRequests',
    flag: '--max-conn-requests <N>',
    help: 'FastCGI: concurrent requests on one connection, announced as FCGI_MAX_REQS (default 256)',
    parse: integer(1),
  },
  {
    key: 'maxConcurrent',
    flag: '--max-concurrent <N>',
    help: 'requests in flight per process; beyond it 503 (FastCGI: FCGI_OVERLOADED) (default 10000)',
    parse: integer(1),
  },
  {
    key: 'bodyMemoryBytes',
    flag: '--body-memory-bytes <N>',
    help: 'FastCGI: unread body bytes held in memory per multiplexed request before spilling to a temp file (default 1048576)',
    parse: integer(0),
  },
  {
    key: 'headerTimeout',
    flag: '--header-timeout <MS>',
    help: "time to receive a request's headers (SCGI) or PARAMS (FastCGI) before closing (default 30000)",
    parse: integer(1),
  },
  {
    key: 'idleTimeout',
    flag: '--idle-timeout <MS>',
    help: "FastCGI: close a kept-alive connection idle this long; keep it above the front end's (default 120000)",
    parse: integer(1),
  },
  {
    key: 'requestTimeout',
    flag: '--request-timeout <MS>',
    help: "a response not finished within MS: 504 (or cut short) and the app's signal aborted (default 0: none)",
    parse: integer(0),
  },
  {
    key: 'listenBacklog',
    flag: '--listen-backlog <N>',
    help: 'kernel queue of connections not yet accepted (default 511)',
    parse: integer(1),
  },
  {
    key: 'statusPath',
    flag: '--status-path <PATH>',
    help: "answer this path (as the app would see it) with the daemon's status as JSON, or ?format=prometheus",
    parse: requestPath,
  },
  {
    key: 'statusAllow',
    flag: '--status-allow <ADDR[,ADDR...]>',
    help: 'front-end peers the status path answers ("unix" for Unix sockets; default 127.0.0.0/8,::1,unix)',
    parse: peers(true),
    list: true,
  },
  {
    key: 'pingPath',
    flag: '--ping-path <PATH>',
    help: 'answer this path with "pong" without running the app',
    parse: requestPath,
  },
  {
    key: 'slowLogMs',
    flag: '--slow-log-ms <MS>',
    help: 'log requests that take longer than MS, and count them',
    parse: integer(1),
  },
  {
    key: 'workers',
    flag: '--workers <N|auto>',
    help: 'worker processes under a primary that owns the listeners (auto: one per CPU; 0: serve in this process) (default 1)',
    parse: workerCount,
  },
  {
    key: 'maxRequests',
    flag: '--max-requests <N>',
    help: 'replace a worker gracefully after about N requests (PHP-FPM pm.max_requests)',
    parse: integer(1),
  },
  {
    key: 'maxRequestsJitter',
    flag: '--max-requests-jitter <N>',
    help: 'add 0..N at random to --max-requests per worker, so workers are not replaced at once (default N/10)',
    parse: integer(0),
  },
  {
    key: 'maxRss',
    flag: '--max-rss <MB>',
    help: 'replace a worker gracefully once its resident memory exceeds MB',
    parse: integer(1),
  },
  {
    key: 'user',
    flag: '--user <USER>',
    help: 'run the app as USER (name or uid) once the sockets are bound',
    parse: nonEmpty,
  },
  {
    key: 'group',
    flag: '--group <GROUP>',
    help: 'run the app as GROUP (name or gid) once the sockets are bound',
    parse: nonEmpty,
  },
  {
    key: 'pidFile',
    flag: '--pid-file <FILE>',
    help: 'write the PID of the primary (or only) process here',
    parse: nonEmpty,
  },
  { key: 'chdir', flag: '--chdir <DIR>', help: 'change to DIR before loading the app', parse: nonEmpty },
  {
    key: 'watch',
    flag: '--watch',
    help: "development: reload the workers when a file under the app's directory changes",
    parse: switchValue,
  },
  {
    key: 'interface',
    flag: '--interface <NAME>',
    help: 'what the export is: gateway (environ, startResponse), node (req, res; Express, Koa, Fastify) or fetch (Hono); default: detected',
    parse: interfaceName,
  },
  {
    key: 'debug',
    flag: '--debug',
    help: 'answer app errors with a page showing the error and stack (development only)',
    parse: switchValue,
  },
];

const BY_KEY = new Map(OPTIONS.map((spec) => [spec.key, spec]));

export function optionSpec(key: string): OptionSpec | undefined {
  return BY_KEY.get(key as OptionKey);
}

/** Settings as given (flags or a config file), not yet defaulted. */
export type GivenOptions = Partial<ServeOptions>;

/** Defaults, then the config file, then the flags: the later wins key by key. */
export function mergeOptions(...layers: GivenOptions[]): ServeOptions {
  const merged: Record<string, unknown> = { ...DEFAULTS };
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) if (value !== undefined) merged[key] = value;
  }
  return merged as unknown as ServeOptions;
}

/** The limits an options set asks for. */
export function limitsOf(options: ServeOptions): Limits {
  return resolveLimits({
    maxConnections: options.maxConnections,
    maxHeaderBytes: options.maxHeaderBytes,
    maxBodyBytes: options.maxBodyBytes ?? Infinity,
    maxParamsBytes: options.maxParamsBytes,
    maxConnRequests: options.maxConnRequests,
    maxConcurrent: options.maxConcurrent,
    bodyMemoryBytes: options.bodyMemoryBytes,
    headerTimeout: options.headerTimeout,
    idleTimeout: options.idleTimeout,
    requestTimeout: options.requestTimeout,
    listenBacklog: options.listenBacklog,
  });
}
