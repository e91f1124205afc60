// One request, whatever the listener: its states, admission, body accounting, timeouts, cancellation, metering and refusals.
import { performance } from 'node:perf_hooks';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { ProtocolError } from '../errors';
import { Cancellation } from '../gateway/cancellation';
import { runApp } from '../gateway/driver';
import {
  buildCgiVariables,
  createEnviron,
  declaredLength,
  type CgiVariables,
  type RequestContext,
  type VariableList,
} from '../gateway/environ';
import { errorsStream } from '../gateway/errors-stream';
import type { RequestBody } from '../gateway/input';
import { plainResponse } from '../gateway/plain-response';
import type { ResponseHead } from '../gateway/response-head';
import type { ResponseTransport } from '../gateway/transport';
import type { Environ, GatewayProtocol } from '../gateway/types';
import { BodyFeed, type FeedOwner, type InputControl } from './body-feed';
import type { SpoolBudget } from './spool-budget';
import type { ServeContext } from './context';
import { nextRequestId, type MeteredRequest } from './meter';

/**
 * Where a request is. `headers`: its CGI variables are still arriving. `running`: admitted, the app
 * runs, no head has gone out. `responding`: the head went out. `ended`: the response is complete
 * (the app's, or one sluice answered itself). `aborted`: the response was cut short or abandoned.
 */
export type RequestState = 'headers' | 'running' | 'responding' | 'ended' | 'aborted';

/**
 * How a response sluice answered itself ends. `refused`: a plain error response. `overloaded`: the
 * 503 of --max-concurrent, which FastCGI also says with FCGI_OVERLOADED where docs/limits.md says so.
 */
export type Refusal = 'refused' | 'overloaded';

/**
 * What a listener supplies for one request: the bytes of the response on its wire, and control of
 * the input the body arrives on. Everything else about a request is {@link ServerRequest}'s.
 */
export interface RequestTransport extends InputControl {
  readonly protocol: GatewayProtocol;
  /** The request's logger. */
  readonly log: Logger;
  /** See {@link ResponseTransport.sendHead}. */
  sendHead(head: ResponseHead, first: Buffer | null, bodyLength?: number): Promise<void> | undefined;
  /** A body chunk (never empty); a promise means wait before writing more. */
  sendBody(chunk: Buffer): Promise<void> | undefined;
  /** The response is complete; `refusal` when sluice answered the request itself. */
  end(refusal?: Refusal): void;
  /** The response broke after its head went out: make it look incomplete to the front end. */
  abort(error: Error): void;
  /** Text the app wrote to `sluice.errors`. */
  errorText(text: Buffer): void;
  /** Adds the protocol's own keys to the environ before the app sees it (FastCGI: FCGI_ROLE). */
  extendEnviron?(environ: Environ): void;
}

/**
 * One request from its first byte to its last: the listener's transport feeds it the CGI variables
 * and the body and writes what it answers; the limits, timeouts, admission, cancellation and the
 * status counters are applied here alone, so they hold on every listener alike.
 */
export class ServerRequest implements ResponseTransport, RequestContext, MeteredRequest, FeedOwner {
  state: RequestState = 'headers';
  readonly cancellation = new Cancellation();
  readonly requestId = nextRequestId();
  readonly startedAt = performance.now();
  status = 0;
  bytes = 0;
  aborted = false;
  admitted = false;
  vars: CgiVariables | null = null;
  private feed: BodyFeed | null = null;
  /** `sluice.errors`, made when the app first reads it. */
  private errorStream: Writable | null = null;
  /** Body bytes received, whatever CONTENT_LENGTH said. */
  private received = 0;
  /** The body was refused (too large, no room to spool): what still arrives is dropped. */
  private discarding = false;

  constructor(
    private readonly transport: RequestTransport,
    private readonly context: ServeContext,
  ) {}

  // --- RequestContext: what the environ's lazy keys read --------------------------------------------

  get protocol(): GatewayProtocol {
    return this.transport.protocol;
  }

  get log(): Logger {
    return this.transport.log;
  }

  get input(): RequestBody {
    return this.feed!.stream;
  }

  get errors(): Writable {
    return (this.errorStream ??= errorsStream((text) => this.transport.errorText(text)));
  }

  get signal(): AbortSignal {
    return this.cancellation.signal;
  }

  get multiprocess(): boolean {
    return this.context.multiprocess;
  }

  /** The response is over, one way or the other: nothing more goes out for this request. */
  get finished(): boolean {
    return this.state === 'ended' || this.state === 'aborted';
  }

  // --- from the transport ----------------------------------------------------------------------------

  /**
   * The CGI variables are in: the environ, the declared length against --max-body-bytes (413),
   * admission against --max-concurrent (503; the ping and status paths bypass it, since a load
   * balancer must see a busy host as alive), then the app. Does not wait for the body.
   */
  start(list: VariableList, noBody = false): void {
    if (this.state !== 'headers') return;
    const { limits, load } = this.context;
    let vars: CgiVariables;
    let expected: number | null;
    try {
      vars = buildCgiVariables(list, this.context.environ);
      expected = noBody ? 0 : declaredLength(vars, 'CONTENT_LENGTH');
      if (expected !== null && expected > limits.maxBodyBytes) {
        throw new ProtocolError(
          'ERR_BODY_TOO_LARGE',
          `CONTENT_LENGTH ${expected} exceeds --max-body-bytes ${limits.maxBodyBytes}`,
          413,
        );
      }
    } catch (error) {
      this.refuse(error as ProtocolError);
      return;
    }
    this.vars = vars;
    if (load.active >= limits.maxConcurrent && !this.context.admissionExempt.has(vars.PATH_INFO)) {
      load.overloaded++;
      this.refuse(
        new ProtocolError('ERR_OVERLOADED', 'too many requests in flight: overloaded', 503),
        'overloaded',
      );
      return;
    }
    load.active++;
    this.admitted = true;
    this.state = 'running';
    this.feed = new BodyFeed(this.transport, this, expected);
    const environ = createEnviron(vars, this);
    try {
      this.transport.extendEnviron?.(environ);
    } catch (error) {
      this.protocolError(error as ProtocolError);
      return;
    }
    // A body of known length 0 is complete now: some front ends send no end of it.
    if (expected === 0) this.feed.finish();
    void runApp(this.context.app, environ, this);
  }

  /** Body bytes as they arrive, counted against --max-body-bytes whatever CONTENT_LENGTH said. */
  body(chunk: Buffer): void {
    if (this.feed === null || this.discarding || this.finished) return;
    this.received += chunk.length;
    if (this.received > this.context.limits.maxBodyBytes) {
      this.bodyRefused(
        new ProtocolError(
          'ERR_BODY_TOO_LARGE',
          `request body exceeds --max-body-bytes ${this.context.limits.maxBodyBytes}`,
          413,
        ),
      );
      return;
    }
    this.feed.push(chunk);
  }

  /** The protocol ended the body. */
  bodyEnd(): void {
    if (this.discarding || this.finished) return;
    this.feed?.finish();
  }

  /**
   * A protocol error that ends this request: before the app, answered with its status; while the
   * app runs, the app is stopped and the status answered; after the head, the response is cut short.
   */
  protocolError(error: ProtocolError): void {
    if (this.finished) return;
    if (this.state === 'headers') {
      this.refuse(error);
      return;
    }
    this.log.warn({ code: error.code }, error.message);
    this.stopApp(error);
    if (this.state === 'running') this.respondPlain(error.status ?? 400, 'refused');
    else this.abort(error);
  }

  /**
   * The front end went away, or aborted the request: stop the app and write nothing more. A request
   * whose variables never arrived was no request at all and is not counted.
   */
  abandon(reason: ProtocolError): void {
    if (this.finished) return;
    if (this.state === 'headers') {
      this.state = 'aborted';
      return;
    }
    this.stopApp(reason);
    this.close('aborted');
  }

  /** Called about once a second: ends the request if it ran past --header-timeout or --request-timeout. */
  expire(now: number): void {
    const limits = this.context.limits;
    const age = now - this.startedAt;
    if (this.state === 'headers') {
      if (age <= limits.headerTimeout) return;
      this.context.load.timeouts++;
      this.refuse(
        new ProtocolError('ERR_HEADER_TIMEOUT', 'headers not received within --header-timeout', 408),
      );
    } else if (!this.finished && limits.requestTimeout > 0 && age > limits.requestTimeout) {
      this.context.load.timeouts++;
      this.protocolError(
        new ProtocolError('ERR_REQUEST_TIMEOUT', 'response not finished within --request-timeout', 504),
      );
    }
  }

  /** The input turned out to be shared with other requests (see {@link BodyFeed.becameShared}). */
  becameShared(): void {
    this.feed?.becameShared();
  }

  // --- FeedOwner: the body's spool ----------------------------------------------------------------

  get spoolMemoryBytes(): number {
    return this.context.limits.bodyMemoryBytes;
  }

  get spoolBudget(): SpoolBudget {
    return this.context.spool;
  }

  spoolFull(): void {
    this.bodyRefused(new ProtocolError('ERR_SPOOL_FULL', 'no room to spool the body', 503));
  }

  spoolFailed(error: Error): void {
    this.bodyRefused(new ProtocolError('ERR_BODY_SPOOL', 'request body spool failed', 500, { cause: error }));
  }

  excessBytes(bytes: number): void {
    this.log.warn({ bytes }, 'discarded bytes sent after the declared length');
  }

  // --- ResponseTransport: what the driver writes ------------------------------------------------------

  sendHead(head: ResponseHead, first: Buffer | null, bodyLength?: number): Promise<void> | undefined {
    if (this.state !== 'running') return undefined;
    this.state = 'responding';
    this.status = head.code;
    if (first !== null) this.bytes += first.length;
    return this.transport.sendHead(head, first, bodyLength);
  }

  sendBody(chunk: Buffer): Promise<void> | undefined {
    if (this.state !== 'responding') return undefined;
    this.bytes += chunk.length;
    return this.transport.sendBody(chunk);
  }

  end(): void {
    if (this.state !== 'responding') return;
    this.transport.end();
    this.close('ended');
  }

  abort(error: Error): void {
    if (this.finished) return;
    this.aborted = true;
    this.transport.abort(error);
    this.close('aborted');
  }

  // --- inside --------------------------------------------------------------------------------------------

  /**
   * The body cannot be taken (over the limit, no room to spool, the spool failed): the app's input
   * fails with the error, the rest of the body is dropped as it arrives without being held, and the
   * error's status is the response unless the head went out already.
   */
  private bodyRefused(error: ProtocolError): void {
    if (this.discarding || this.finished) return;
    this.discarding = true;
    this.log.warn({ code: error.code, received: this.received }, error.message);
    this.feed!.fail(error);
    // The feed may have paused the input for a slow reader: what is left must flow to be dropped.
    this.transport.pauseInput(false);
    if (this.state !== 'running') return;
    this.cancellation.abort();
    this.respondPlain(error.status ?? 500, 'refused');
  }

  private stopApp(reason: Error): void {
    this.cancellation.abort();
    if (this.feed !== null && !this.feed.settled) this.feed.fail(reason);
  }

  /** Answered by sluice before (or instead of) the app: the error's status, logged with its code. */
  private refuse(error: ProtocolError, refusal: Refusal = 'refused'): void {
    this.log.warn({ code: error.code, status: error.status }, error.message);
    if (error.status === undefined) {
      this.abort(error);
      return;
    }
    this.respondPlain(error.status, refusal);
  }

  private respondPlain(code: number, refusal: Refusal): void {
    const { head, body } = plainResponse(code);
    this.status = code;
    this.bytes = body.length;
    this.transport.sendHead(head, body);
    this.transport.end(refusal);
    this.close('ended');
  }

  private close(state: 'ended' | 'aborted'): void {
    this.state = state;
    this.feed?.close();
    this.context.load.finished(this);
  }
}
