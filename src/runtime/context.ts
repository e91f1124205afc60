// What every protocol's connection layer needs from the daemon to serve requests.
import type { Logger } from 'pino';
import type { Limits } from './limits';
import type { EnvironOptions } from '../gateway/environ';
import type { Meter } from './meter';
import type { SpoolBudget } from './spool-budget';
import type { App } from '../gateway/types';

export interface ServeContext {
  readonly app: App;
  readonly log: Logger;
  readonly limits: Limits;
  readonly environ: EnvironOptions;
  /** True when several processes serve the same listeners. */
  readonly multiprocess: boolean;
  /** Requests in flight across all connections of this process (checked against limits.maxConcurrent), and counters. */
  readonly load: Meter;
  /** The disk this process's body spools share (limits.spoolMaxBytes). */
  readonly spool: SpoolBudget;
  /** PATH_INFO values served even at --max-concurrent: the ping and status paths. */
  readonly admissionExempt: ReadonlySet<string | undefined>;
}

/** A live front-end connection as the daemon tracks it for graceful stop. */
export interface TrackedConnection {
  /** Take no new requests: close now when idle, otherwise once the requests in flight are answered. */
  shutdown(): void;
  /** Close at once (the drain timeout ran out). */
  destroy(): void;
  /** Called about once a second with performance.now(): ends what ran past its timeout. */
  expire(now: number): void;
  /**
   * The process is being replaced: finish the requests in flight, then give the still-open socket
   * to `handOff` instead of closing it, when the protocol keeps connections alive; else as shutdown().
   */
  retire(handOff: (socket: import('node:net').Socket) => void): void;
}

/**
 * Serves one accepted socket; the connection removes itself from tracking through `onClose`.
 * `handedOver`: a kept-alive connection another process served before, not one just opened.
 */
export type ConnectionHandler = (
  socket: import('node:net').Socket,
  context: ServeContext,
  onClose: () => void,
  handedOver: boolean,
) => TrackedConnection;
