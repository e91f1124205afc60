// When a dead worker's slot is started again: backoff doubling from 100 ms to 10 s, and crash-loop detection.

export const FIRST_DELAY_MS = 100;
export const MAX_DELAY_MS = 10_000;
/** This many deaths within CRASH_WINDOW_MS make a crash loop. */
export const CRASH_LOOP_DEATHS = 5;
export const CRASH_WINDOW_MS = 10_000;

/** The deaths of the workers of one slot. */
export class CrashHistory {
  /** Workers of this slot that died and were replaced. */
  restarts = 0;
  crashLoop = false;
  private deaths: number[] = [];
  private consecutive = 0;

  /**
   * Records a death at `now` of a worker that had been up `upMs`; returns the delay before starting
   * the next one, or null when the slot is crash-looping and must not be started again.
   */
  died(now: number, upMs: number): number | null {
    // A worker that lived through a whole window ends the streak.
    if (upMs >= CRASH_WINDOW_MS) this.consecutive = 0;
    this.consecutive++;
    this.deaths = this.deaths.filter((t) => now - t < CRASH_WINDOW_MS);
    this.deaths.push(now);
    if (this.deaths.length >= CRASH_LOOP_DEATHS) {
      this.crashLoop = true;
      return null;
    }
    this.restarts++;
    return Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (this.consecutive - 1));
  }

  /** A reload starts the slot afresh. */
  reset(): void {
    this.crashLoop = false;
    this.deaths = [];
    this.consecutive = 0;
  }
}
