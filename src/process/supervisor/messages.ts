// What the primary and its workers tell each other over the IPC channel node:cluster sets up.
import type { ListenerProtocol, ListenerSpec } from '../daemon';
import type { ListenAddress } from '../../common/address';
import type { Counters } from '../../runtime/meter';
import type { ServeOptions } from '../../settings/options';
import type { DaemonStatus } from '../../status/snapshot';

/** Handed to a worker in its environment (SLUICE_WORKER) when it is forked. */
export interface WorkerSpec {
  readonly slot: number;
  readonly generation: number;
  readonly options: ServeOptions;
  readonly listeners: readonly ListenerSpec[];
  /** The primary holds every listening socket and sends fresh copies when asked (`listeners?`). */
  readonly listenersHeld: boolean;
}

export const WORKER_SPEC_VARIABLE = 'SLUICE_WORKER';

export type ToPrimary =
  /** Listening, app loaded: may take traffic. */
  | { readonly sluice: 'ready'; readonly bound: readonly ListenAddress[] }
  /** Its counters as it leaves, after its last request: they stay in the daemon's totals. */
  | { readonly sluice: 'final'; readonly counters: Counters }
  /** Answer to `stats?`. */
  | { readonly sluice: 'stats'; readonly id: number; readonly counters: Counters; readonly rssBytes: number }
  /** A request for the status path wants the whole daemon's status. */
  | { readonly sluice: 'status?'; readonly id: number }
  /** Over --max-requests or --max-rss: start my successor, then retire me. */
  | { readonly sluice: 'recycle'; readonly reason: string }
  /** A kept-alive connection, sent along as the handle, for a worker that stays. */
  | { readonly sluice: 'handoff'; readonly protocol: ListenerProtocol }
  /** Out of file descriptors, it closed its listening sockets: send copies to listen on again. */
  | { readonly sluice: 'listeners?' };

export type ToWorker =
  | { readonly sluice: 'stats?'; readonly id: number }
  | { readonly sluice: 'status'; readonly id: number; readonly status: DaemonStatus }
  /** A successor serves: finish, hand kept-alive connections over, exit. */
  | { readonly sluice: 'retire' }
  /** The daemon is about to stop (--stop-grace): answer the ping path with 503, serve the rest. */
  | { readonly sluice: 'grace' }
  /** The daemon stops: finish, close, exit. */
  | { readonly sluice: 'stop' }
  /** SIGUSR2 reached the primary: reopen log files. */
  | { readonly sluice: 'reopen' }
  /** Serve this connection (the handle) from now on. */
  | { readonly sluice: 'adopt'; readonly protocol: ListenerProtocol }
  /** A copy of the listening socket (the handle) of the worker's listener `index`. */
  | { readonly sluice: 'listener'; readonly index: number };

export function isMessage(value: unknown): value is { sluice: string } {
  return (
    typeof value === 'object' && value !== null && typeof (value as { sluice?: unknown }).sluice === 'string'
  );
}
