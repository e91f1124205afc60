// Resource limits with their documented defaults; every length is checked against these before buffering.

/** One set of limits shared by the SCGI and FastCGI servers; see docs/limits.md. */
export interface Limits {
  /** SCGI: largest netstring header block accepted, in bytes. */
  readonly scgiMaxHeaderBytes: number;
  /** Largest request body accepted, in bytes (Infinity: the front end enforces its own). */
  readonly maxBodyBytes: number;
  /** Concurrent connections per listener; beyond it new connections are closed at once. */
  readonly maxConnections: number;
  /** FastCGI: requests in flight in the whole process; beyond it new ones get FCGI_OVERLOADED. */
  readonly maxRequests: number;
  /** FastCGI: total PARAMS bytes of one request. */
  readonly fcgiMaxParamsBytes: number;
  /** FastCGI: concurrent requests on one connection (answered as FCGI_MAX_REQS). */
  readonly fcgiMaxRequestsPerConnection: number;
  /** FastCGI: STDIN bytes buffered in memory per multiplexed request before spilling to a file. */
  readonly fcgiStdinMemoryBytes: number;
  /** Unread request bytes discarded after a response before the connection is closed anyway. */
  readonly drainBytes: number;
  /** Milliseconds spent draining unread request bytes before closing anyway. */
  readonly drainTimeoutMs: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_LIMITS: Limits = Object.freeze({
  scgiMaxHeaderBytes: MiB,
  maxBodyBytes: Infinity,
  maxConnections: 10_000,
  maxRequests: 10_000,
  fcgiMaxParamsBytes: MiB,
  fcgiMaxRequestsPerConnection: 256,
  fcgiStdinMemoryBytes: MiB,
  drainBytes: 4 * MiB,
  drainTimeoutMs: 5_000,
});

/** Defaults overridden by whatever the caller sets. */
export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  return Object.freeze({ ...DEFAULT_LIMITS, ...overrides });
}
