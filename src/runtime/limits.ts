// Resource limits and timeouts, defaulted from the settings table; every length is checked against these before buffering.
import { DEFAULTS, limitsOf, type LimitValues } from '../settings/options';

/** One set of limits shared by the SCGI and FastCGI servers; see docs/limits.md. */
export interface Limits {
  /**
   * Largest SCGI header block (netstring) and HTTP listener request head accepted, in bytes.
   * FastCGI PARAMS have their own, `maxParamsBytes`.
   */
  readonly maxHeaderBytes: number;
  /** Largest request body accepted, in bytes (Infinity: the front end enforces its own). */
  readonly maxBodyBytes: number;
  /** Concurrent connections per listener; beyond it new connections are closed at once. */
  readonly maxConnections: number;
  /**
   * Requests in flight in the whole process; beyond it new ones are refused with a 503
   * (FastCGI: with FCGI_OVERLOADED).
   */
  readonly maxConcurrent: number;
  /** FastCGI: total PARAMS bytes of one request. */
  readonly maxParamsBytes: number;
  /** FastCGI: concurrent requests on one connection (answered as FCGI_MAX_REQS). */
  readonly maxConnRequests: number;
  /** FastCGI: STDIN bytes buffered in memory per multiplexed request before spilling to a file. */
  readonly bodyMemoryBytes: number;
  /**
   * Body bytes all spools of this process may hold in temporary files at once; a request that would
   * go over is refused with a 503 and the rest of its body discarded.
   */
  readonly spoolMaxBytes: number;
  /** Unread request bytes discarded after a response before the connection is closed anyway. */
  readonly lingerBytes: number;
  /** Milliseconds spent draining unread request bytes before closing anyway. */
  readonly lingerTimeout: number;
  /**
   * Milliseconds from a connection's accept (SCGI) or a request's BEGIN_REQUEST (FastCGI) until its
   * headers or PARAMS are complete; beyond it the connection is closed (slowloris).
   */
  readonly headerTimeout: number;
  /** FastCGI: milliseconds a kept-alive connection may sit with no request before it is closed. */
  readonly idleTimeout: number;
  /**
   * FastCGI: on stop, milliseconds a kept-alive connection with no request in flight stays open and
   * serving before it is closed: a request the front end is already sending on it is served.
   */
  readonly stopIdle: number;
  /** Milliseconds an app may take to finish a response (0: no limit); beyond it a 504 and the signal aborts. */
  readonly requestTimeout: number;
  /** Length of the kernel's queue of connections not yet accepted. */
  readonly listenBacklog: number;
}

// The defaults are the settings table's (src/settings/table.ts). The type below holds the table to
// this interface: a row feeding no field here, or a field no row (nor FIXED_LIMITS) feeds, fails to
// compile.
const fromTable: Limits & { readonly [K in Exclude<keyof LimitValues, keyof Limits>]: never } =
  limitsOf(DEFAULTS);

/** The limits `sluice serve` applies when no setting changes them; see docs/limits.md. */
export const DEFAULT_LIMITS: Limits = fromTable;

/** Defaults overridden by whatever the caller sets. */
export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  return Object.freeze({ ...DEFAULT_LIMITS, ...overrides });
}
