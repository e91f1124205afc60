// Garbage a burst leaves behind (response chunks, request buffers, closed connections' state) is
// collected only when allocation goes on. A daemon that goes quiet after streaming a few hundred
// megabytes keeps its resident memory at the burst's peak for as long as it stays quiet: operators
// read that as a leak, and --max-rss would recycle a worker for garbage. So once a process has been
// idle for a moment after serving, and has grown well past what it needs, it collects once.
import v8 from 'node:v8';
import vm from 'node:vm';

const MiB = 1024 * 1024;

export interface IdleCollectorOptions {
  /** How long no request must have been in flight. */
  readonly idleMs: number;
  /** Resident memory above the least seen after a collection that makes one worth its pause. */
  readonly growthBytes: number;
}

export const IDLE_COLLECTOR_DEFAULTS: IdleCollectorOptions = Object.freeze({
  idleMs: 1000,
  growthBytes: 8 * MiB,
});

/**
 * The engine's full collection. Node exposes it only behind --expose-gc, which a daemon's users
 * should not have to pass; set at run time, the flag applies to contexts made after it.
 */
export function fullCollection(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** Decides, on each tick of the daemon's sweep, whether to collect now; no timers of its own. */
export class IdleCollector {
  private busyAt = 0;
  /** Requests finished as of the last tick: a change means requests ran since, however short. */
  private requestsSeen = 0;
  private requestsAtCollection = 0;
  /** The least resident memory seen while idle: what the process needs when it holds no garbage. */
  private floor: number;

  constructor(
    private readonly collect: () => void,
    private readonly resident: () => number,
    private readonly options: IdleCollectorOptions = IDLE_COLLECTOR_DEFAULTS,
  ) {
    this.floor = resident();
  }

  /** `active`: requests in flight; `requests`: requests finished so far. True when it collected. */
  tick(now: number, active: number, requests: number): boolean {
    if (active > 0 || requests !== this.requestsSeen) {
      this.busyAt = now;
      this.requestsSeen = requests;
      return false;
    }
    if (now - this.busyAt < this.options.idleMs) return false;
    // Read while idle, never just after collecting: the engine frees buffers' memory a moment later.
    const resident = this.resident();
    this.floor = Math.min(this.floor, resident);
    if (requests === this.requestsAtCollection) return false;
    this.requestsAtCollection = requests;
    // Against the floor, not the last collection: memory a collection could not give back at once
    // (the allocator keeps freed chunks, the engine its pages) is often given back at the next.
    if (resident - this.floor < this.options.growthBytes) return false;
    this.collect();
    return true;
  }
}
