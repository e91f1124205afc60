// One body stream of a request on its way to the app: backpressure by pausing the input, or a spool where the input is shared.
import { LazyBody, RequestBody, type BodySource } from '../gateway/input';
import { BodySpool } from './body-spool';
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

export interface FeedOptions {
  /** The declared length, or null when the body runs to where the protocol ends it. */
  readonly expected: number | null;
  /** Unread bytes held in memory before the spool spills to its file. */
  readonly memoryCap: number;
  readonly budget: SpoolBudget;
  /** The spool's file could not take more: the disk budget is spent. */
  readonly full: () => void;
  /** The spool failed (a full disk, an I/O error). */
  readonly failed: (error: Error) => void;
  /** Bytes sent past the declared length, discarded. */
  readonly excess: (bytes: number) => void;
}

/**
 * Feeds one body to the app. While the input is the request's alone, a slow reader pauses it; once
 * it is shared the bytes go through a spool. The app's stream and the spool are made on first use:
 * most requests have no body at all.
 */
export class BodyFeed implements BodySource {
  readonly body: LazyBody;
  private spool: BodySpool | null = null;
  /** This feed paused the input (it was not shared then). */
  private pausedInput = false;

  constructor(
    private readonly input: InputControl,
    private readonly options: FeedOptions,
  ) {
    this.body = new LazyBody(() => new RequestBody(this, options.expected, options.excess));
  }

  private get spooled(): BodySpool {
    if (this.spool === null) {
      const { memoryCap, budget, full, failed } = this.options;
      // Spilling to the file must not fall behind the input either: hold it for a disk write.
      this.spool = new BodySpool(memoryCap, budget, full, failed, (paused) => this.input.pauseInput(paused));
      this.spool.attach(this.body);
    }
    return this.spool;
  }

  push(chunk: Buffer): void {
    if (this.spool === null && !this.input.sharedInput) this.body.deliver(chunk);
    else this.spooled.push(chunk);
  }

  /** The front end ended the stream. */
  finish(): void {
    if (this.spool === null) this.body.finish();
    else this.spool.finish();
  }

  /** The body can never complete. */
  fail(error: Error): void {
    this.body.fail(error);
    this.close();
  }

  /** The request is over: release what the spool holds. */
  close(): void {
    this.spool?.close();
  }

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
}
