// The disk all request-body spools of one process may use at once (--spool-max-bytes).

/**
 * One client streaming into a multiplexed FastCGI connection while its app does not read could
 * otherwise fill the disk: every spool asks here before it writes to its temporary file, and gives
 * its bytes back when it closes.
 */
export class SpoolBudget {
  private used = 0;

  constructor(private readonly max: number) {}

  /** Bytes held in spool files now. */
  get bytes(): number {
    return this.used;
  }

  /** Takes `bytes` of the budget; false (and nothing taken) when that would go over it. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.max) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used -= bytes;
  }
}
