// A request's "the front end went away": a flag for the server, an AbortSignal only for apps that ask.

/**
 * Creating an AbortController costs more than the rest of a short request (an EventTarget per
 * request), and most apps never look at `sluice.signal`. The flag and plain callbacks serve the
 * server; the signal is made on first use, already aborted if the request was.
 */
export class Cancellation {
  private cancelled = false;
  private controller: AbortController | null = null;
  private listeners: Array<() => void> | null = null;

  get aborted(): boolean {
    return this.cancelled;
  }

  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.cancelled) this.controller.abort();
    }
    return this.controller.signal;
  }

  /** Calls `listener` once when the request is aborted (at once if it already was). */
  onAbort(listener: () => void): void {
    if (this.cancelled) listener();
    else (this.listeners ??= []).push(listener);
  }

  abort(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.controller?.abort();
    const listeners = this.listeners;
    this.listeners = null;
    if (listeners !== null) for (const listener of listeners) listener();
  }
}
