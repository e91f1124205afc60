// One body stream of a request on its way to the app: backpressure by pausing the input, or a spool where the input is shared.
import { RequestBody, type BodySource } from '../gateway/input';
import { BodySpool, type SpoolTarget } from './body-spool';
import type { SpoolBudget } from './spool-budget';

/** The input a body arrives on, as its transport controls it. */
export interface InputControl {
  /**
   * True when other requests read from the same input (a multiplexed FastCGI connection): pausing
   * it would stall them, so an unread body is spooled instead.
   */
  readonly sharedInput: boolean;
  /** Stops (true) or restarts (false) reading the input. */
  pauseInput(paused: boolean): void;
}

/** The request a body belongs to: how much it may spool, and what to do when that fails. */
export interface FeedOwner {
  /** Unread bytes held in memory before the spool spills to its file. */
  readonly spoolMemoryBytes: number;
  readonly spoolBudget: SpoolBudget;
  /** The spool's file could not take more: the disk budget is spent. */
  spoolFull(): void;
  /** The spool failed (a full disk, an I/O error). */
  spoolFailed(error: Error): void;
  /** Bytes sent past the declared length, discarded. */
  excessBytes(bytes: number): void;
}

/**
 * Feeds one body to the app. While the input is the request's alone, a slow reader pauses it; once
 * it is shared the bytes go through a spool. The app's stream and the spool are made on first use:
 * most requests have no body at all, and a Readable costs about a microsecond to build. Until the
 * stream exists, an end or a failure is remembered and replayed on it.
 */
export class BodyFeed implements BodySource, SpoolTarget {
  private body: RequestBody | null = null;
  private ended = false;
  private failure: Error | null = null;
  private spool: BodySpool | null = null;
  /** This feed paused the input (it was not shared then). */
  private pausedInput = false;

  constructor(
    private readonly input: InputControl,
    private readonly owner: FeedOwner,
    /** The declared length, or null when the body runs to where the protocol ends it. */
    private readonly expected: number | null,
  ) {}

  /** The app's stream (`sluice.input`). */
  get stream(): RequestBody {
    if (this.body === null) {
      const owner = this.owner;
      this.body = new RequestBody(this, this.expected, (bytes) => owner.excessBytes(bytes));
      if (this.failure !== null) this.body.fail(this.failure);
      else if (this.ended) this.body.finish();
    }
    return this.body;
  }

  /** The body has ended, completely or not: nothing more will be delivered. */
  get settled(): boolean {
    return this.body === null ? this.ended || this.failure !== null : this.body.settled;
  }

  /** Body bytes from the transport, straight to the app's stream or through the spool. */
  push(chunk: Buffer): void {
    if (this.spool === null && !this.input.sharedInput) this.stream.deliver(chunk);
    else this.spooled.push(chunk);
  }

  /** The front end ended the stream. */
  finish(): void {
    if (this.spool !== null) this.spool.finish();
    else this.end();
  }

  /** The body can never complete. */
  fail(error: Error): void {
    if (this.body === null) this.failure ??= error;
    else this.body.fail(error);
    this.close();
  }

  /** The request is over: release what the spool holds. */
  close(): void {
    this.spool?.close();
  }

  // --- SpoolTarget: what the spool hands on ---------------------------------------------------------

  deliver(chunk: Buffer): void {
    this.stream.deliver(chunk);
  }

  end(): void {
    if (this.body === null) this.ended = true;
    else this.body.finish();
  }

  // --- BodySource: what the app's stream asks for --------------------------------------------------

  pause(): void {
    if (this.input.sharedInput) {
      this.spooled.pause();
      return;
    }
    this.pausedInput = true;
    this.input.pauseInput(true);
  }

  resume(): void {
    this.spool?.resume();
    if (!this.pausedInput) return;
    this.pausedInput = false;
    this.input.pauseInput(false);
  }

  /** The input turned out to be shared: a paused input would stall the others, so spool instead. */
  becameShared(): void {
    if (!this.pausedInput) return;
    this.pausedInput = false;
    this.spooled.pause();
    this.input.pauseInput(false);
  }

  private get spooled(): BodySpool {
    if (this.spool === null) {
      const owner = this.owner;
      // Spilling to the file must not fall behind the input either: hold it for a disk write.
      this.spool = new BodySpool(
        owner.spoolMemoryBytes,
        owner.spoolBudget,
        () => owner.spoolFull(),
        (error) => owner.spoolFailed(error),
        (paused) => this.input.pauseInput(paused),
      );
      this.spool.attach(this);
    }
    return this.spool;
  }
}
