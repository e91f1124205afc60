// Resource limits and timeouts with their documented defaults; every length is checked against these before buffering.

/** One set of limits shared by the SCGI and FastCGI servers; see docs/limits.md. */
export interface Limits {
  /** SCGI: largest netstring header block accepted, in bytes. */
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
  /** Milliseconds an app may take to finish a response (0: no limit); beyond it a 504 and the signal aborts. */
  readonly requestTimeout: number;
  /** Length of the kernel's queue of connections not yet accepted. */
  readonly listenBacklog: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxHeaderBytes: MiB,
  maxBodyBytes: Infinity,
  maxConnections: 10_000,
  maxConcurrent: 10_000,
  maxParamsBytes: MiB,
  maxConnRequests: 256,
  bodyMemoryBytes: MiB,
  spoolMaxBytes: 1024 * MiB,
  lingerBytes: 4 * MiB,
  lingerTimeout: 5_000,
  headerTimeout: 30_000,
  // Longer than the front ends' own idle timeouts (nginx keepalive_timeout 60s): the side that
  // closes an idle kept connection must be the front end, or a request sent on it meanwhile is lost.
  idleTimeout: 120_000,
  requestTimeout: 0,
  listenBacklog: 511,
});

/** Defaults overridden by whatever the caller sets. */
export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  return Object.freeze({ ...DEFAULT_LIMITS, ...overrides });
}
