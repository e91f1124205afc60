// One FastCGI request: its environ and body streams, and its response as STDOUT/STDERR/END_REQUEST records.
import { performance } from 'node:perf_hooks';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { ProtocolError } from '../errors';
import { BodySpool } from '../runtime/body-spool';
import { Cancellation } from '../gateway/cancellation';
import type { ServeContext } from '../runtime/context';
import type { Limits } from '../runtime/limits';
import { runApp } from '../gateway/driver';
import {
  buildCgiVariables,
  createEnviron,
  declaredLength,
  type RequestContext,
  type CgiVariables,
  type VariableList,
} from '../gateway/environ';
import { errorsStream } from '../gateway/errors-stream';
import { LazyBody, RequestBody, type BodySource } from '../gateway/input';
import { nextRequestId, type MeteredRequest } from '../runtime/meter';
import { plainResponse } from '../gateway/plain-response';
import { headText, withContentLength, type ResponseHead } from '../gateway/response-head';
import type { ResponseTransport } from '../gateway/transport';
import {
  FCGI_AUTHORIZER,
  FCGI_FILTER,
  FCGI_REQUEST_COMPLETE,
  FCGI_STDERR,
  FCGI_STDOUT,
  type Role,
} from './constants';
import { endRequestRecord, stderrRecords, stdoutRecords, stdoutTextRecords, streamEndRecord } from './writer';

/** What a request needs from its connection. */
export interface RequestOwner {
  readonly context: ServeContext;
  /** Writes records in one go; a promise means the socket asked to wait. */
  write(records: Buffer[], from: FastCgiRequest): Promise<void> | undefined;
  /** Whether this connection carries (or announced) several requests at once. */
  readonly multiplexing: boolean;
  /** Pauses or resumes reading the socket, for a request that has the connection to itself. */
  pauseInput(paused: boolean): void;
  /** The request sent END_REQUEST; its id is free again. */
  ended(request: FastCgiRequest, closeConnection: boolean): void;
}

const ROLE_NAMES: Record<Role, string> = { 1: 'RESPONDER', 2: 'AUTHORIZER', 3: 'FILTER' };

/** Most STDERR bytes held back while the head is not out yet; the rest is logged instead. */
const HELD_STDERR_CAP = 64 * 1024;

/**
 * One body stream of a request (STDIN, or DATA for a filter), fed either by pausing the socket or,
 * on a shared connection, through a spool. The spool and the app's stream are made on first use:
 * most requests have no body at all.
 */
class BodyFeed implements BodySource {
  readonly body: LazyBody;
  private spool: BodySpool | null = null;
  /** This feed paused the socket (the connection was not shared then). */
  private pausedSocket = false;

  constructor(
    private readonly owner: RequestOwner,
    private readonly memoryCap: number,
    private readonly onError: (error: Error) => void,
    expected: number | null,
    onExcess: (bytes: number) => void,
  ) {
    this.body = new LazyBody(() => new RequestBody(this, expected, onExcess));
  }

  private get spooled(): BodySpool {
    if (this.spool === null) {
      // Spilling to the file must not fall behind the socket either: hold the connection for a disk write.
      this.spool = new BodySpool(this.memoryCap, null, this.onError, (paused) =>
        this.owner.pauseInput(paused),
      );
      this.spool.attach(this.body);
    }
    return this.spool;
  }

  push(chunk: Buffer): void {
    this.spooled.push(chunk);
  }

  /** The front end ended the stream. */
  finish(): void {
    if (this.spool === null) this.body.finish();
    else this.spool.finish();
  }

  /** The request is over: release what the spool holds. */
  close(): void {
    this.spool?.close();
  }

  pause(): void {
    if (this.owner.multiplexing) {
      this.spooled.pause();
      return;
    }
    this.pausedSocket = true;
    this.owner.pauseInput(true);
  }

  resume(): void {
    this.spool?.resume();
    this.pausedSocket = false;
    this.owner.pauseInput(false);
  }

  /** The connection turned out to be shared: a paused socket would stall the others, so spool instead. */
  becameShared(): void {
    if (!this.pausedSocket) return;
    this.pausedSocket = false;
    this.spooled.pause();
    this.owner.pauseInput(false);
  }
}

/**
 * Body bytes copied into the head's STDOUT record. mod_authnz_fcgi keeps only the body bytes that
 * arrive in the same record as the end of the head, so a short body (an authorizer's 401 text)
 * travels with it; a long one goes in records of its own rather than being copied.
 */
const SAME_RECORD_BODY = 16 * 1024;

function headRecords(requestId: number, head: ResponseHead, first: Buffer | null): Buffer[] {
  if (first === null || first.length <= SAME_RECORD_BODY)
    return stdoutTextRecords(requestId, headText(head), first);
  return [...stdoutTextRecords(requestId, headText(head), null), ...stdoutRecords(requestId, first)];
}

/** A complete plain-text response of status `code` as STDOUT records, terminator included. */
export function plainResponseRecords(requestId: number, code: number): Buffer[] {
  const { head, body } = plainResponse(code);
  return [...headRecords(requestId, head, body), streamEndRecord(FCGI_STDOUT, requestId)];
}

export class FastCgiRequest implements ResponseTransport, RequestContext, MeteredRequest {
  readonly cancellation = new Cancellation();
  readonly protocol = 'fastcgi';
  readonly requestId = nextRequestId();
  readonly startedAt = performance.now();
  status = 0;
  aborted = false;
  bytes = 0;
  vars: CgiVariables | null = null;
  private requestLog: Logger | null = null;
  private inputFeed: BodyFeed | null = null;
  private dataFeed: BodyFeed | null = null;
  private headSent = false;
  private heldStderr: Buffer[] = [];
  private heldStderrBytes = 0;
  private stderrSent = false;
  /** END_REQUEST went out (or the connection closed): nothing more is written for this id. */
  private done = false;

  constructor(
    readonly id: number,
    readonly role: Role,
    readonly keepConn: boolean,
    private readonly owner: RequestOwner,
    private readonly connectionLog: Logger,
  ) {}

  // --- RequestContext: made on first use -----------------------------------------------------------

  get log(): Logger {
    return (this.requestLog ??= this.connectionLog.child({ fcgiId: this.id, req: this.requestId }));
  }

  get signal(): AbortSignal {
    return this.cancellation.signal;
  }

  get input(): RequestBody {
    return this.inputFeed!.body.stream;
  }

  get errors(): Writable {
    return errorsStream((text) => this.stderr(text));
  }

  get multiprocess(): boolean {
    return this.owner.context.multiprocess;
  }

  get finished(): boolean {
    return this.done;
  }

  /** PARAMS ended: build the environ and start the app (without waiting for STDIN: haproxy #2499). */
  start(pairs: VariableList): void {
    const context = this.owner.context;
    let vars;
    let expected: number | null;
    let dataLength: number | null = null;
    try {
      vars = buildCgiVariables(pairs, context.environ);
      // Authorizers get no body (spec §6.3): Apache sends no STDIN at all.
      expected = this.role === FCGI_AUTHORIZER ? 0 : declaredLength(vars, 'CONTENT_LENGTH');
      if (this.role === FCGI_FILTER) dataLength = declaredLength(vars, 'FCGI_DATA_LENGTH');
      if (expected !== null && expected > context.limits.maxBodyBytes) {
        throw new ProtocolError(
          'ERR_BODY_TOO_LARGE',
          `CONTENT_LENGTH ${expected} exceeds the body limit`,
          413,
        );
      }
    } catch (error) {
      this.refuse(error as ProtocolError);
      return;
    }
    vars.FCGI_ROLE = ROLE_NAMES[this.role];
    this.vars = vars;
    this.inputFeed = this.feed(expected);
    const environ = createEnviron(vars, this);
    if (this.role === FCGI_FILTER) {
      this.dataFeed = this.feed(dataLength);
      environ['sluice.data'] = this.dataFeed.body.stream;
    }
    // A body of known length 0 is complete now: some front ends send no empty STDIN for it.
    if (expected === 0) this.inputFeed.finish();
    void runApp(context.app, environ, this);
  }

  private feed(expected: number | null): BodyFeed {
    return new BodyFeed(
      this.owner,
      this.owner.context.limits.bodyMemoryBytes,
      (error) => this.fail(error),
      expected,
      (bytes) => this.log.warn({ bytes }, 'discarded bytes sent after the declared length'),
    );
  }

  stdin(chunk: Buffer): void {
    this.inputFeed?.push(chunk);
  }

  stdinEnd(): void {
    this.inputFeed?.finish();
  }

  dataChunk(chunk: Buffer): void {
    this.dataFeed?.push(chunk);
  }

  dataEnd(): void {
    this.dataFeed?.finish();
  }

  /** ABORT_REQUEST (spec §5.4): stop the app and answer at once, without waiting for it. */
  abortByFrontEnd(): void {
    if (this.done) return;
    this.log.debug('aborted by the front end');
    this.stopApp(new ProtocolError('ERR_FCGI_ABORTED', 'the front end aborted the request'));
    this.finish([endRequestRecord(this.id, 0, FCGI_REQUEST_COMPLETE)], false);
  }

  /** The connection is gone: stop the app, write nothing more. */
  connectionClosed(): void {
    if (this.done) return;
    this.done = true;
    this.stopApp(new ProtocolError('ERR_CONNECTION_CLOSED', 'the front end closed the connection'));
  }

  /** A protocol error that ends only this request. */
  protocolError(error: ProtocolError): void {
    if (this.done) return;
    if (this.inputFeed === null) {
      this.refuse(error);
      return;
    }
    this.log.warn({ code: error.code }, error.message);
    this.stopApp(error);
    if (this.headSent) this.abort(error);
    else this.respondPlain(error.status ?? 400, 1);
  }

  /** Ends the request if it ran past --header-timeout (PARAMS incomplete) or --request-timeout. */
  expire(now: number, limits: Limits): void {
    if (this.done) return;
    const age = now - this.startedAt;
    if (this.inputFeed === null) {
      if (age <= limits.headerTimeout) return;
      this.owner.context.load.timeouts++;
      this.protocolError(
        new ProtocolError('ERR_HEADER_TIMEOUT', 'PARAMS not received within --header-timeout', 408),
      );
    } else if (limits.requestTimeout > 0 && age > limits.requestTimeout) {
      this.owner.context.load.timeouts++;
      this.protocolError(
        new ProtocolError('ERR_REQUEST_TIMEOUT', 'response not finished within --request-timeout', 504),
      );
    }
  }

  private stopApp(reason: Error): void {
    this.cancellation.abort();
    this.inputFeed?.body.fail(reason);
    this.dataFeed?.body.fail(reason);
    this.inputFeed?.close();
    this.dataFeed?.close();
  }

  private fail(error: Error): void {
    this.log.error({ err: error }, 'request body spool failed');
    this.protocolError(
      new ProtocolError('ERR_BODY_SPOOL', 'request body spool failed', 500, { cause: error }),
    );
  }

  /** Before the app ran: answer the error's status and end the request. */
  private refuse(error: ProtocolError): void {
    this.log.warn({ code: error.code, status: error.status }, error.message);
    this.respondPlain(error.status ?? 400, 1);
  }

  private respondPlain(code: number, appStatus: number): void {
    this.headSent = true;
    this.status = code;
    this.finish(
      [...plainResponseRecords(this.id, code), endRequestRecord(this.id, appStatus, FCGI_REQUEST_COMPLETE)],
      false,
    );
  }

  /** See {@link BodyFeed.becameShared}. */
  becameShared(): void {
    this.inputFeed?.becameShared();
    this.dataFeed?.becameShared();
  }

  // --- sluice.errors -----------------------------------------------------------------------------

  /** STDERR before the head can turn into a 502 at some front ends (haproxy #743): hold it until then. */
  private stderr(text: Buffer): void {
    if (this.done) {
      this.log.warn({ appErrors: text.toString() }, 'sluice.errors written after the response ended');
      return;
    }
    if (!this.headSent) {
      if (this.heldStderrBytes + text.length <= HELD_STDERR_CAP) {
        this.heldStderr.push(Buffer.from(text));
        this.heldStderrBytes += text.length;
      } else {
        this.log.warn({ appErrors: text.toString() }, 'sluice.errors overflow before the head');
      }
      return;
    }
    this.stderrSent = true;
    void this.owner.write(stderrRecords(this.id, text), this);
  }

  private takeHeldStderr(records: Buffer[]): void {
    for (const text of this.heldStderr) records.push(...stderrRecords(this.id, text));
    if (this.heldStderr.length > 0) this.stderrSent = true;
    this.heldStderr = [];
    this.heldStderrBytes = 0;
  }

  // --- ResponseTransport -------------------------------------------------------------------------

  sendHead(response: ResponseHead, first: Buffer | null, bodyLength?: number): Promise<void> | undefined {
    const head = withContentLength(response, bodyLength);
    if (this.done) return undefined;
    this.headSent = true;
    this.status = head.code;
    if (first !== null) this.bytes += first.length;
    const records = headRecords(this.id, head, first);
    this.takeHeldStderr(records);
    return this.owner.write(records, this);
  }

  sendBody(chunk: Buffer): Promise<void> | undefined {
    if (this.done) return undefined;
    this.bytes += chunk.length;
    return this.owner.write(stdoutRecords(this.id, chunk), this);
  }

  end(): void {
    if (this.done) return;
    const records = [streamEndRecord(FCGI_STDOUT, this.id)];
    this.takeHeldStderr(records);
    if (this.stderrSent) records.push(streamEndRecord(FCGI_STDERR, this.id));
    records.push(endRequestRecord(this.id, 0, FCGI_REQUEST_COMPLETE));
    this.finish(records, false);
  }

  /**
   * The response broke after its head went out. A front end must not take it for complete: a STDERR
   * line and a non-zero appStatus; on a connection no other request shares, no empty STDOUT and the
   * connection closes, which nginx and lighttpd report as a premature end of the response. On a
   * shared connection the terminator is still sent: HAProxy would otherwise hold the stream open
   * until its timeout.
   */
  abort(error: Error): void {
    if (this.done) return;
    this.aborted = true;
    const code = (error as ProtocolError).code ?? 'ERR_APP';
    const records = this.owner.multiplexing ? [streamEndRecord(FCGI_STDOUT, this.id)] : [];
    records.push(...stderrRecords(this.id, Buffer.from(`sluice: response aborted (${code})\n`)));
    records.push(endRequestRecord(this.id, 1, FCGI_REQUEST_COMPLETE));
    this.finish(records, !this.owner.multiplexing);
  }

  private finish(records: Buffer[], closeConnection: boolean): void {
    void this.owner.write(records, this);
    this.done = true;
    this.inputFeed?.close();
    this.dataFeed?.close();
    this.owner.ended(this, closeConnection || !this.keepConn);
  }
}
