// One FastCGI connection: records routed to per-request state, replies written fairly, keep-alive and close.
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { ConnectionHandler, ServeContext, TrackedConnection } from '../runtime/context';
import { DrainGate, endAndDrain } from '../runtime/drain';
import {
  FCGI_AUTHORIZER,
  FCGI_FILTER,
  FCGI_MAX_CONNS,
  FCGI_MAX_REQS,
  FCGI_MPXS_CONNS,
  FCGI_OVERLOADED,
  FCGI_RESPONDER,
  FCGI_UNKNOWN_ROLE,
  type Role,
} from './constants';
import type { FastCgiProtocolError } from './errors';
import type { PairList } from './pairs';
import { RecordParser, type RecordSink } from './parser';
import { FastCgiRequest, plainResponseRecords, type RequestOwner } from './request';
import { RequestTable } from './request-table';
import { endRequestRecord, getValuesResultRecord, unknownTypeRecord } from './writer';

let nextConnectionId = 0;

/**
 * Bytes one request may write while others on the same connection wait, before it yields to them:
 * two large responses on one multiplexed connection then alternate instead of queueing.
 */
const FAIR_SLICE = 64 * 1024;

const NOT_FASTCGI_REPLY = Buffer.from(
  'HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n' +
    'This is a FastCGI socket: point a FastCGI front end (fastcgi_pass, mod_proxy_fcgi) at it.\n',
);

/**
 * Written in the same write right behind the last END_REQUEST of a kept-alive connection closed by a
 * stop. nginx keeps a connection for its next request only when END_REQUEST ends exactly where its
 * read ended; a byte after it and nginx closes the connection instead (ngx_http_fastcgi_module's
 * input filters), so it never writes a request on a connection whose close is on its way. HAProxy's
 * FastCGI mux drops an UNKNOWN_TYPE record on the null id; a front end that reads nothing past
 * END_REQUEST meets only the close that follows anyway.
 */
const NOT_FOR_REUSE = unknownTypeRecord(0);

export const serveFastCgi: ConnectionHandler = (socket, context, onClose, handedOver) =>
  new FastCgiConnection(socket, context, onClose, handedOver);

class FastCgiConnection implements RecordSink, RequestOwner, TrackedConnection {
  private readonly parser: RecordParser;
  private readonly log: Logger;
  private readonly requests = new RequestTable<FastCgiRequest>();
  /** Set once the front end asked about multiplexing or overlapped two requests. */
  private shared = false;
  /** Close once the requests in flight are answered (FCGI_KEEP_CONN unset, or daemon stopping). */
  private closing = false;
  /** A BEGIN_REQUEST came (here or, handed over, elsewhere): not a connection just opened. */
  private begun: boolean;
  /** Our side is ended and unread input is being discarded (see endAndDrain). */
  private draining = false;
  private readonly drain: DrainGate;
  private lastWriter: FastCgiRequest | null = null;
  private corked = false;
  /** Set while a chunk of input is being parsed: writes made meanwhile leave when it is done. */
  private parsing = false;
  private readonly uncork = (): void => {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  };
  private sliceBytes = 0;
  /** performance.now() since when no request has been in flight. */
  private idleSince = performance.now();
  /** Set while retiring: the socket goes to this instead of being closed once idle. */
  private handOff: ((socket: Socket) => void) | null = null;
  /** The daemon is stopping (see shutdown). */
  private stopping = false;
  /** Set while stopping with no request in flight: closes the connection after --stop-idle. */
  private stopIdleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly socket: Socket,
    readonly context: ServeContext,
    onClose: () => void,
    handedOver: boolean,
  ) {
    this.begun = handedOver;
    this.log = context.log.child({ protocol: 'fastcgi', conn: ++nextConnectionId });
    this.parser = new RecordParser(this, {
      maxParamsBytes: context.limits.maxParamsBytes,
      maxConnRequests: context.limits.maxConnRequests,
    });
    this.log.debug('connection opened');
    socket.on('data', (chunk: Buffer) => {
      this.parsing = true;
      this.parser.push(chunk);
      this.parsing = false;
      this.uncork();
    });
    socket.on('end', () => {
      // Once draining, the parser no longer sees the input: its end is not a truncated record.
      if (this.draining) return;
      this.parser.end();
      // Front ends never half-close a FastCGI connection: an end of input means they went away
      // (nginx closes instead of sending ABORT_REQUEST when its client leaves).
      if (!socket.destroyed && this.requests.size > 0) socket.destroy();
      else if (!socket.destroyed) socket.end();
    });
    this.drain = new DrainGate(socket);
    socket.on('error', (error: NodeJS.ErrnoException) =>
      this.log.debug({ code: error.code }, 'socket error'),
    );
    socket.on('close', () => {
      if (this.stopIdleTimer !== null) clearTimeout(this.stopIdleTimer);
      for (const request of this.requests.values()) request.connectionClosed();
      this.requests.clear();
      onClose();
    });
  }

  get multiplexing(): boolean {
    return this.shared;
  }

  // --- records from the front end -----------------------------------------------------------------

  beginRequest(requestId: number, role: number, keepConn: boolean): void {
    this.begun = true;
    if (role !== FCGI_RESPONDER && role !== FCGI_AUTHORIZER && role !== FCGI_FILTER) {
      this.log.warn({ fcgiId: requestId, role }, 'unknown FastCGI role');
      this.parser.requestDone(requestId);
      this.refuse(requestId, FCGI_UNKNOWN_ROLE, keepConn);
      return;
    }
    // Admission waits for PARAMS: the ping and status paths are served even at --max-concurrent.
    this.requests.set(requestId, new FastCgiRequest(requestId, role as Role, keepConn, this, this.log));
    if (this.requests.size > 1) this.markShared();
  }

  overloaded(requestId: number, _role: number, keepConn: boolean): void {
    this.log.warn({ fcgiId: requestId, active: this.requests.size }, 'too many requests on one connection');
    this.refuse(requestId, FCGI_OVERLOADED, keepConn, 503);
  }

  private markShared(): void {
    if (this.shared) return;
    this.shared = true;
    for (const request of this.requests.values()) request.becameShared();
  }

  /**
   * END_REQUEST with the refusal; without FCGI_KEEP_CONN that ends the exchange, so the connection
   * closes (spec §5.1). An overloaded request also gets a 503 first: front ends ignore the protocol
   * status (Apache would show an empty 200, nginx a 502), but pass a response on.
   */
  private refuse(requestId: number, protocolStatus: number, keepConn: boolean, status?: number): void {
    const response = status === undefined ? [] : plainResponseRecords(requestId, status);
    this.write([...response, endRequestRecord(requestId, 0, protocolStatus)]);
    if (keepConn) return;
    this.closing = true;
    if (this.requests.size === 0) this.drainAndClose();
  }

  params(requestId: number, pairs: PairList): void {
    this.requests.get(requestId)?.start(pairs);
  }

  stdin(requestId: number, chunk: Buffer): void {
    this.requests.get(requestId)?.request.body(chunk);
  }

  stdinEnd(requestId: number): void {
    this.requests.get(requestId)?.request.bodyEnd();
  }

  data(requestId: number, chunk: Buffer): void {
    this.requests.get(requestId)?.dataChunk(chunk);
  }

  dataEnd(requestId: number): void {
    this.requests.get(requestId)?.dataEnd();
  }

  abortRequest(requestId: number): void {
    this.requests.get(requestId)?.abortByFrontEnd();
  }

  getValues(names: string[]): void {
    // Only a front end that multiplexes asks; from now on no request may pause the shared socket.
    this.markShared();
    this.log.debug({ names }, 'GET_VALUES');
    const limits = this.context.limits;
    const known: Record<string, string> = {
      [FCGI_MAX_CONNS]: String(limits.maxConnections),
      [FCGI_MAX_REQS]: String(limits.maxConnRequests),
      [FCGI_MPXS_CONNS]: '1',
    };
    // Only the names asked for and understood (spec §4.1; php-src #66479).
    const answer = names.filter((name) => name in known).map((name) => [name, known[name]] as const);
    this.write([getValuesResultRecord(answer)]);
  }

  unknownType(type: number): void {
    this.log.warn({ type }, 'unknown FastCGI management record type');
    this.write([unknownTypeRecord(type)]);
  }

  error(error: FastCgiProtocolError): void {
    if (!error.fatal) {
      this.requests.get(error.requestId!)?.request.protocolError(error);
      return;
    }
    this.log.warn({ code: error.code }, error.message);
    if (error.code === 'ERR_FCGI_NOT_FASTCGI' && this.requests.size === 0 && !this.socket.destroyed) {
      this.socket.write(NOT_FASTCGI_REPLY);
      this.drainAndClose();
      return;
    }
    this.socket.destroy();
  }

  // --- RequestOwner -----------------------------------------------------------------------------

  write(records: Buffer[], from?: FastCgiRequest): Promise<void> | undefined {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return undefined;
    // Records written together leave in one writev, and the front end reads them at once: those
    // written while a chunk of input is parsed (a short response served synchronously, several
    // requests in one chunk) when the chunk is done, others (async apps) at the end of this turn of
    // the event loop, after the microtasks that usually write the rest of a response.
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      if (!this.parsing) setImmediate(this.uncork);
    }
    let flushed = true;
    for (const record of records) flushed = socket.write(record);
    if (!flushed) return this.drain.wait(false);
    if (from !== undefined && this.requests.size > 1) return this.yieldIfDue(from, records);
    return undefined;
  }

  /** On a shared connection, a request that wrote a whole slice lets the others write first. */
  private yieldIfDue(from: FastCgiRequest, records: Buffer[]): Promise<void> | undefined {
    if (from !== this.lastWriter) {
      this.lastWriter = from;
      this.sliceBytes = 0;
    }
    for (const record of records) this.sliceBytes += record.length;
    if (this.sliceBytes < FAIR_SLICE) return undefined;
    this.sliceBytes = 0;
    return new Promise((resolve) => setImmediate(resolve));
  }

  pauseInput(paused: boolean): void {
    if (paused) this.socket.pause();
    else if (!this.socket.destroyed && !this.socket.readableEnded) this.socket.resume();
  }

  ended(request: FastCgiRequest, closeConnection: boolean): void {
    if (this.requests.get(request.id) !== request) return;
    this.requests.delete(request.id);
    this.parser.requestDone(request.id);
    if (this.lastWriter === request) this.lastWriter = null;
    if (closeConnection) this.closing = true;
    if (this.requests.size === 0) {
      this.idleSince = performance.now();
      if (this.closing) {
        if (this.stopping && !closeConnection) this.write([NOT_FOR_REUSE]);
        this.drainAndClose();
        return;
      }
      if (this.handOff !== null) setImmediate(() => this.tryHandOff());
    }
    // A request that paused the socket for its unread body is gone; the others need input.
    this.pauseInput(false);
  }

  // --- timeouts ------------------------------------------------------------------------------------

  expire(now: number): void {
    if (this.draining) return;
    const limits = this.context.limits;
    if (this.requests.size > 0) {
      for (const { request } of this.requests.values()) request.expire(now);
      return;
    }
    // Half a record waiting for its rest is a slow sender, not an idle connection; so is one that
    // never began a request: front ends send BEGIN_REQUEST as soon as they connect, and a silent
    // connection held for the idle timeout is a slowloris that needs no bytes at all.
    const slow = this.parser.bufferedBytes > 0 || !this.begun;
    const limit = slow ? limits.headerTimeout : limits.idleTimeout;
    if (now - this.idleSince > limit) {
      this.log.debug({ idleMs: Math.round(now - this.idleSince) }, 'idle connection closed');
      this.drainAndClose();
    }
  }

  // --- daemon stop --------------------------------------------------------------------------------

  /**
   * Closes once the requests in flight are answered, the end of input right behind the last
   * END_REQUEST so that it reaches the front end before that front end reuses the connection. One
   * with no request in flight may be crossing a request the front end is writing (FastCGI has no way
   * to announce a close, and a request discarded after our close is a 502 nginx never retries if it
   * is a POST): it stays open and serving for --stop-idle, then closes if nothing came. Front ends
   * reuse their most recently used connections first (nginx's keepalive cache is a stack), so one
   * that stayed quiet that long is the one least likely to be picked at the instant it closes.
   */
  shutdown(): void {
    this.stopping = true;
    this.closing = true;
    if (this.requests.size > 0 || this.draining) return;
    this.stopIdleTimer = setTimeout(() => this.closeIfQuiet(), this.context.limits.stopIdle);
    this.stopIdleTimer.unref();
  }

  /** --stop-idle is over: closes unless a request began meanwhile (`ended` closes after it). */
  private closeIfQuiet(): void {
    this.stopIdleTimer = null;
    if (this.draining || this.requests.size > 0) return;
    // Part of a record came: a request on its way (bounded by the header and drain timeouts).
    if (this.parser.bufferedBytes > 0) {
      this.stopIdleTimer = setTimeout(() => this.closeIfQuiet(), this.context.limits.stopIdle);
      this.stopIdleTimer.unref();
      return;
    }
    this.drainAndClose();
  }

  /**
   * Closing a kept-alive connection races with the front end sending its next request on it (nginx
   * does not retry a POST on a connection closed under it), so a retiring process hands the socket,
   * still open, to its successor: between two requests, with nothing unread or unwritten.
   */
  retire(handOff: (socket: Socket) => void): void {
    if (this.closing || this.draining) return;
    this.handOff = handOff;
    this.tryHandOff();
  }

  private tryHandOff(): void {
    const socket = this.socket;
    const handOff = this.handOff;
    if (handOff === null || this.draining || this.closing || socket.destroyed) return;
    if (this.requests.size > 0 || this.parser.bufferedBytes > 0) return;
    if (this.corked || socket.writableLength > 0 || socket.readableLength > 0) {
      // Bytes still leaving or already read: look again once they are gone.
      setTimeout(() => this.tryHandOff(), 5).unref();
      return;
    }
    this.handOff = null;
    this.draining = true;
    socket.pause();
    socket.removeAllListeners('end');
    socket.removeAllListeners('data');
    handOff(socket);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private drainAndClose(): void {
    this.draining = true;
    const socket = this.socket;
    // Stopping, with every byte written and none unread: closed at once, without the turn of the
    // event loop an end() takes to reach the kernel. The front end sees the end of input microseconds
    // after the response, before it can take the connection for its next request.
    if (this.stopping) {
      this.uncork();
      if (socket.writableLength === 0 && socket.readableLength === 0) {
        socket.destroy();
        return;
      }
    }
    endAndDrain(socket, this.context.limits);
  }
}
