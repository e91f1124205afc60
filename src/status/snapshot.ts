// The status document: what /sluice-status answers, as JSON (schema in docs/status.md) or Prometheus text.
import { formatAddress, type ListenAddress } from '../common/address';
import { addCounters, emptyCounters, LATENCY_BUCKETS, type Counters } from '../runtime/meter';
import { listenQueues } from './listen-queue';

export type WorkerState = 'starting' | 'serving' | 'retiring';

export interface WorkerStatus {
  /** Position 1..N; a replacement takes its predecessor's slot. */
  readonly slot: number;
  readonly pid: number;
  /** Which reload started it: 1 at start, +1 per SIGHUP. */
  readonly generation: number;
  readonly state: WorkerState;
  readonly startedAt: string;
  readonly rssBytes: number;
  readonly counters: Counters;
}

export interface ListenerStatus {
  readonly protocol: string;
  readonly address: string;
  /** Connections waiting to be accepted (Linux: TCP, and Unix sockets when `ss` is installed); null where unknown. */
  readonly queued: number | null;
  /** The queue's length limit asked for (--listen-backlog; the kernel caps it at net.core.somaxconn). */
  readonly backlog: number;
}

export interface SlotStatus {
  readonly slot: number;
  /** Times a worker in this slot died and was replaced. */
  readonly restarts: number;
  /** Five deaths within ten seconds: the slot is no longer restarted until a reload. */
  readonly crashLoop: boolean;
}

export interface DaemonStatus {
  readonly version: string;
  /** PID of the process that owns the listeners. */
  readonly pid: number;
  /** `primary`: workers under a primary; `single`: everything in one process (--workers 0). */
  readonly mode: 'primary' | 'single';
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  readonly generation: number;
  readonly reloads: number;
  /** Workers replaced after dying. */
  readonly restarts: number;
  /** Workers replaced on purpose: --max-requests, --max-rss. */
  readonly recycles: number;
  readonly listeners: readonly ListenerStatus[];
  readonly slots: readonly SlotStatus[];
  /**
   * Counters of the workers that are gone (retired, recycled or dead) since the daemon started, as
   * each last reported them: at its exit, or for a killed worker at the last status request.
   */
  readonly exited: Counters;
  /** `exited` plus the counters of every live worker (maxActive: the highest of one worker). */
  readonly totals: Counters;
  readonly workers: readonly WorkerStatus[];
  /** Upper bounds (seconds) of the latency histogram's buckets, without the final +Inf. */
  readonly latencyBuckets: readonly number[];
}

/** The parts of a status document that are not derived from others. */
export type StatusParts = Omit<DaemonStatus, 'uptimeSeconds' | 'totals' | 'latencyBuckets' | 'startedAt'> & {
  readonly startedAt: Date;
};

export function buildStatus(parts: StatusParts): DaemonStatus {
  return {
    ...parts,
    startedAt: parts.startedAt.toISOString(),
    uptimeSeconds: Math.round((Date.now() - parts.startedAt.getTime()) / 100) / 10,
    totals: totalsOf(parts.exited, parts.workers),
    latencyBuckets: LATENCY_BUCKETS,
  };
}

/** The status of each listener: its address as logged, and its accept queue where the kernel tells. */
export async function listenerStatuses(
  listeners: ReadonlyArray<{ readonly protocol: string; readonly address: ListenAddress }>,
  backlog: number,
): Promise<ListenerStatus[]> {
  const queues = await listenQueues(listeners.map((l) => l.address));
  return listeners.map(({ protocol, address }, i) => ({
    protocol,
    address: formatAddress(address),
    queued: queues[i],
    backlog,
  }));
}

export function totalsOf(exited: Counters, workers: readonly WorkerStatus[]): Counters {
  const totals = emptyCounters();
  addCounters(totals, exited);
  for (const worker of workers) addCounters(totals, worker.counters);
  return totals;
}
