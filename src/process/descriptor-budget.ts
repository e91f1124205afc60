// When to stop accepting connections for want of file descriptors, and when to start again.

export type BudgetChange = 'pause' | 'resume' | null;

/**
 * A process at its open-file limit cannot accept, and neither can its app open a file; libuv, out of
 * descriptors, accepts whatever waits and closes it at once. So accepting pauses a reserve short of
 * the limit, leaving connections in the listen queue, and resumes only once twice the reserve is
 * free again: a gap, so that one closed connection does not resume and the next pause again.
 */
export class DescriptorBudget {
  /** Descriptors kept for the app and the daemon's own files: a sixteenth of the limit, 8 to 1024. */
  readonly reserve: number;
  private paused = false;

  constructor(readonly limit: number) {
    this.reserve = Math.min(1024, Math.max(8, Math.ceil(limit / 16)));
  }

  get pauseAt(): number {
    return this.limit - this.reserve;
  }

  get resumeAt(): number {
    return this.limit - 2 * this.reserve;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Takes a count of open descriptors; says whether accepting should now pause or resume. */
  observe(open: number): BudgetChange {
    if (!this.paused && open >= this.pauseAt) {
      this.paused = true;
      return 'pause';
    }
    if (this.paused && open <= this.resumeAt) {
      this.paused = false;
      return 'resume';
    }
    return null;
  }
}
