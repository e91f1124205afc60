// The FastCGI transport of one request id: its records in, its response out as STDOUT/STDERR/END_REQUEST records.
import type { Logger } from 'pino';
import { ProtocolError } from '../errors';
import { declaredLength, type CgiVariables, type VariableList } from '../gateway/environ';
import { plainResponse } from '../gateway/plain-response';
import { headText, withContentLength, type ResponseHead } from '../gateway/response-head';
import type { Environ } from '../gateway/types';
import { BodyFeed, type FeedOwner } from '../runtime/body-feed';
import type { ServeContext } from '../runtime/context';
import type { SpoolBudget } from '../runtime/spool-budget';
import { ServerRequest, type Refusal, type RequestTransport } from '../runtime/request';
import {
  FCGI_AUTHORIZER,
  FCGI_FILTER,
  FCGI_OVERLOADED,
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

export class FastCgiRequest implements RequestTransport, FeedOwner {
  readonly protocol = 'fastcgi';
  /** The request itself; made at BEGIN_REQUEST, so --header-timeout counts from there. */
  readonly request: ServerRequest;
  private requestLog: Logger | null = null;
  /** FCGI_DATA of a filter (spec §6.4): the file to filter, a second body. */
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
  ) {
    this.request = new ServerRequest(this, owner.context);
  }

  get log(): Logger {
    return (this.requestLog ??= this.connectionLog.child({ fcgiId: this.id, req: this.request.requestId }));
  }

  get sharedInput(): boolean {
    return this.owner.multiplexing;
  }

  get finished(): boolean {
    return this.done;
  }

  /** PARAMS ended: start the request (without waiting for STDIN: haproxy #2499). */
  start(pairs: VariableList): void {
    // Authorizers get no body (spec §6.3): Apache sends no STDIN at all.
    this.request.start(pairs, this.role === FCGI_AUTHORIZER);
  }

  extendEnviron(environ: Environ): void {
    environ.FCGI_ROLE = ROLE_NAMES[this.role];
    if (this.role !== FCGI_FILTER) return;
    const length = declaredLength(environ as unknown as CgiVariables, 'FCGI_DATA_LENGTH');
    this.dataFeed = new BodyFeed(this, this, length);
    environ['sluice.data'] = this.dataFeed.stream;
  }

  // --- FeedOwner: the filter's data stream, spooled like a body ------------------------------------

  get spoolMemoryBytes(): number {
    return this.owner.context.limits.bodyMemoryBytes;
  }

  get spoolBudget(): SpoolBudget {
    return this.owner.context.spool;
  }

  spoolFull(): void {
    this.request.protocolError(new ProtocolError('ERR_SPOOL_FULL', 'no room to spool the data', 503));
  }

  spoolFailed(error: Error): void {
    this.request.protocolError(
      new ProtocolError('ERR_BODY_SPOOL', 'request data spool failed', 500, { cause: error }),
    );
  }

  excessBytes(bytes: number): void {
    this.log.warn({ bytes }, 'discarded bytes sent after FCGI_DATA_LENGTH');
  }

  dataChunk(chunk: Buffer): void {
    if (!this.done) this.dataFeed?.push(chunk);
  }

  dataEnd(): void {
    if (!this.done) this.dataFeed?.finish();
  }

  /** ABORT_REQUEST (spec §5.4): stop the app and answer at once, without waiting for it. */
  abortByFrontEnd(): void {
    if (this.done) return;
    this.log.debug('aborted by the front end');
    this.request.abandon(new ProtocolError('ERR_FCGI_ABORTED', 'the front end aborted the request'));
    this.closeData();
    this.finish([endRequestRecord(this.id, 0, FCGI_REQUEST_COMPLETE)], false);
  }

  /** The connection is gone: stop the app, write nothing more. */
  connectionClosed(): void {
    this.done = true;
    this.request.abandon(new ProtocolError('ERR_CONNECTION_CLOSED', 'the front end closed the connection'));
    this.closeData();
  }

  /** The connection turned out to be shared: see {@link BodyFeed.becameShared}. */
  becameShared(): void {
    this.request.becameShared();
    this.dataFeed?.becameShared();
  }

  pauseInput(paused: boolean): void {
    this.owner.pauseInput(paused);
  }

  private closeData(): void {
    if (this.dataFeed === null) return;
    if (!this.dataFeed.settled) {
      this.dataFeed.fail(new ProtocolError('ERR_CONNECTION_CLOSED', 'the request ended'));
    }
    this.dataFeed.close();
  }

  // --- sluice.errors -----------------------------------------------------------------------------

  /** STDERR before the head can turn into a 502 at some front ends (haproxy #743): hold it until then. */
  errorText(text: Buffer): void {
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
    if (this.heldStderr.length === 0) return;
    for (const text of this.heldStderr) records.push(...stderrRecords(this.id, text));
    if (this.heldStderr.length > 0) this.stderrSent = true;
    this.heldStderr = [];
    this.heldStderrBytes = 0;
  }

  // --- the response ------------------------------------------------------------------------------

  sendHead(response: ResponseHead, first: Buffer | null, bodyLength?: number): Promise<void> | undefined {
    if (this.done) return undefined;
    const head = withContentLength(response, bodyLength);
    this.headSent = true;
    const records = headRecords(this.id, head, first);
    this.takeHeldStderr(records);
    return this.owner.write(records, this);
  }

  sendBody(chunk: Buffer): Promise<void> | undefined {
    if (this.done) return undefined;
    return this.owner.write(stdoutRecords(this.id, chunk), this);
  }

  /**
   * The response is complete. A refusal ends with appStatus 1; an overloaded one with FCGI_OVERLOADED,
   * except on a multiplexed connection: HAProxy closes it on FCGI_OVERLOADED, failing every other
   * request on it, so there the 503 alone says it. Front ends ignore the protocol status anyway
   * (Apache would show an empty 200, nginx a 502) but pass the 503 on.
   */
  end(refusal?: Refusal): void {
    if (this.done) return;
    const records = [streamEndRecord(FCGI_STDOUT, this.id)];
    this.takeHeldStderr(records);
    if (this.stderrSent) records.push(streamEndRecord(FCGI_STDERR, this.id));
    if (refusal === 'overloaded') {
      const status = this.owner.multiplexing ? FCGI_REQUEST_COMPLETE : FCGI_OVERLOADED;
      records.push(endRequestRecord(this.id, 0, status));
    } else {
      records.push(endRequestRecord(this.id, refusal === 'refused' ? 1 : 0, FCGI_REQUEST_COMPLETE));
    }
    this.closeData();
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
    const code = (error as ProtocolError).code ?? 'ERR_APP';
    const records = this.owner.multiplexing ? [streamEndRecord(FCGI_STDOUT, this.id)] : [];
    records.push(...stderrRecords(this.id, Buffer.from(`sluice: response aborted (${code})\n`)));
    records.push(endRequestRecord(this.id, 1, FCGI_REQUEST_COMPLETE));
    this.closeData();
    this.finish(records, !this.owner.multiplexing);
  }

  private finish(records: Buffer[], closeConnection: boolean): void {
    void this.owner.write(records, this);
    this.done = true;
    this.owner.ended(this, closeConnection || !this.keepConn);
  }
}
