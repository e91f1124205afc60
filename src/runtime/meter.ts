// Per-process request counters and latency histogram, with the access log and slow log they feed.
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { CgiVariables } from '../gateway/environ';

/** Upper bounds of the latency histogram's buckets, in seconds (Prometheus' default set). */
export const LATENCY_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The numbers one process reports; summed over workers by the primary. */
export interface Counters {
  /** Connections accepted. */
  accepted: number;
  /** Requests in flight now. */
  active: number;
  /** Most requests in flight at once. */
  maxActive: number;
  /** Requests finished. */
  requests: number;
  /** Requests that ended with a 5xx, were cut short, or whose front end went away. */
  errors: number;
  /** Requests refused for --max-concurrent. */
  overloaded: number;
  /** Requests ended by --request-timeout or --header-timeout. */
  timeouts: number;
  /** Requests that took --slow-log-ms or longer. */
  slow: number;
  /** Times accepting paused for want of file descriptors. */
  descriptorPauses: number;
  /** Connections closed as accepted while out of file descriptors, with no listen queue to wait in. */
  descriptorRefused: number;
  /** Requests per latency bucket (not cumulative), the last one for those above every bound. */
  latencyCounts: number[];
  /** Sum of all latencies, in seconds. */
  latencySum: number;
}

export function emptyCounters(): Counters {
  return {
    accepted: 0,
    active: 0,
    maxActive: 0,
    requests: 0,
    errors: 0,
    overloaded: 0,
    timeouts: 0,
    slow: 0,
    descriptorPauses: 0,
    descriptorRefused: 0,
    latencyCounts: new Array<number>(LATENCY_BUCKETS.length + 1).fill(0),
    latencySum: 0,
  };
}

/** Adds `from` into `into` (maxActive: the highest of any one process). */
export function addCounters(into: Counters, from: Counters): void {
  into.accepted += from.accepted;
  into.active += from.active;
  into.maxActive = Math.max(into.maxActive, from.maxActive);
  into.requests += from.requests;
  into.errors += from.errors;
  into.overloaded += from.overloaded;
  into.timeouts += from.timeouts;
  into.slow += from.slow;
  into.descriptorPauses += from.descriptorPauses;
  into.descriptorRefused += from.descriptorRefused;
  for (let i = 0; i < into.latencyCounts.length; i++) into.latencyCounts[i] += from.latencyCounts[i] ?? 0;
  into.latencySum += from.latencySum;
}

/** A finished request as its connection layer knows it (the request object itself, not a copy). */
export interface MeteredRequest {
  readonly requestId: number;
  /** performance.now() when the request arrived. */
  readonly startedAt: number;
  /** Status sent, 0 when no response went out. */
  readonly status: number;
  /** The response broke after its head went out (the app failed mid-body): an error whatever its status. */
  readonly aborted: boolean;
  /** Body bytes sent. */
  readonly bytes: number;
  /** The request's variables, null when it was refused before they were built. */
  readonly vars: CgiVariables | null;
  /** It was admitted and counted in `active` (not refused before the app). */
  readonly admitted: boolean;
}

let lastRequestId = 0;

/** A process-wide request id: a number, bound to a log line only when one is written. */
export function nextRequestId(): number {
  return ++lastRequestId;
}

/** What the access log records of one finished request. */
export interface AccessEntry {
  readonly method: string;
  readonly uri: string;
  readonly status: number;
  readonly bytes: number;
  readonly ms: number;
  readonly requestId: number;
}

/** Where finished requests are recorded (the access log file). */
export interface AccessSink {
  write(entry: AccessEntry): void;
}

export interface MeterOptions {
  readonly log: Logger;
  readonly accessLog: AccessSink | null;
  /** --slow-log-ms, or Infinity. */
  readonly slowMs: number;
}

/**
 * Counts requests for the status path. A request increments `active` when it is admitted and calls
 * {@link finished} once it ended, admitted or refused; that is the whole per-request cost.
 */
export class Meter implements Counters {
  accepted = 0;
  active = 0;
  maxActive = 0;
  requests = 0;
  errors = 0;
  overloaded = 0;
  timeouts = 0;
  slow = 0;
  descriptorPauses = 0;
  descriptorRefused = 0;
  latencyCounts = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
  latencySum = 0;

  constructor(private readonly options: MeterOptions) {}

  /** Records a finished request and returns the time it finished (performance.now()). */
  finished(request: MeteredRequest): number {
    if (request.admitted) {
      // The peak is reached by an admission and first undone by a finish: checking here sees it.
      if (this.active > this.maxActive) this.maxActive = this.active;
      this.active--;
    }
    this.requests++;
    const now = performance.now();
    const ms = now - request.startedAt;
    const status = request.status;
    if (status >= 500 || status === 0 || request.aborted) this.errors++;
    const seconds = ms / 1000;
    this.latencySum += seconds;
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[bucket]) bucket++;
    this.latencyCounts[bucket]++;
    if (ms >= this.options.slowMs) this.slowRequest(request, ms);
    const accessLog = this.options.accessLog;
    if (accessLog !== null) {
      const vars = request.vars;
      accessLog.write({
        requestId: request.requestId,
        method: vars?.REQUEST_METHOD ?? '-',
        uri: vars?.REQUEST_URI ?? '-',
        status,
        bytes: request.bytes,
        ms,
      });
    }
    return now;
  }

  private slowRequest(request: MeteredRequest, ms: number): void {
    this.slow++;
    this.options.log.warn(
      {
        req: request.requestId,
        method: request.vars?.REQUEST_METHOD,
        uri: request.vars?.REQUEST_URI,
        status: request.status,
        ms: Math.round(ms),
      },
      'slow request',
    );
  }

  /** A copy of the counters, with the peak including requests still in flight. */
  snapshot(): Counters {
    return {
      accepted: this.accepted,
      active: this.active,
      maxActive: Math.max(this.maxActive, this.active),
      requests: this.requests,
      errors: this.errors,
      overloaded: this.overloaded,
      timeouts: this.timeouts,
      slow: this.slow,
      descriptorPauses: this.descriptorPauses,
      descriptorRefused: this.descriptorRefused,
      latencyCounts: [...this.latencyCounts],
      latencySum: this.latencySum,
    };
  }
}
