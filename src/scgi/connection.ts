// One SCGI connection: parser events to a gateway request, the CGI response back, then close.
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { ProtocolError } from '../errors';
import { Cancellation } from '../gateway/cancellation';
import type { ConnectionHandler, ServeContext, TrackedConnection } from '../runtime/context';
import { DrainGate, endAndDrain } from '../runtime/drain';
import { runApp } from '../gateway/driver';
import { buildCgiVariables, createEnviron, type CgiVariables, type RequestContext } from '../gateway/environ';
import { errorsStream } from '../gateway/errors-stream';
import { LazyBody, RequestBody, type BodySource } from '../gateway/input';
import { nextRequestId, type MeteredRequest } from '../runtime/meter';
import { plainResponse } from '../gateway/plain-response';
import { serializeHead, withContentLength, type ResponseHead } from '../gateway/response-head';
import type { ResponseTransport } from '../gateway/transport';
import type { ScgiProtocolError } from './errors';
import { ScgiParser, type HeaderPairs, type ScgiSink } from './parser';

let nextConnectionId = 0;

/** Bytes of body copied into the head's buffer, to leave in one write with it. */
const SAME_WRITE_BODY = 16 * 1024;

/** SCGI carries one request per connection; the connection ends with the response. */
export const serveScgi: ConnectionHandler = (socket, context, onClose) =>
  new ScgiConnection(socket, context, onClose);

class ScgiConnection
  implements ScgiSink, ResponseTransport, RequestContext, BodySource, TrackedConnection, MeteredRequest
{
  readonly cancellation = new Cancellation();
  readonly protocol = 'scgi';
  private readonly id = ++nextConnectionId;
  // One request per connection: the connection is the request the meter and the timeouts see.
  readonly requestId = nextRequestId();
  readonly startedAt = performance.now();
  status = 0;
  aborted = false;
  bytes = 0;
  vars: CgiVariables | null = null;
  private readonly parser: ScgiParser;
  private connectionLog: Logger | null = null;
  private requestBody: LazyBody | null = null;
  private responded = false;
  private readonly drain: DrainGate;

  constructor(
    private readonly socket: Socket,
    private readonly context: ServeContext,
    onClose: () => void,
  ) {
    this.parser = new ScgiParser(this, {
      maxHeaderBytes: context.limits.maxHeaderBytes,
      maxBodyBytes: context.limits.maxBodyBytes,
    });
    socket.on('data', (chunk: Buffer) => this.parser.push(chunk));
    socket.on('end', () => {
      this.parser.end();
      // nginx, Apache and lighttpd keep their side open until they have read the response, so an
      // end of input before it means the front end gave up (its client went away): stop the app.
      if (!this.responded && !socket.destroyed) {
        this.cancellation.abort();
        socket.destroy();
      }
    });
    this.drain = new DrainGate(socket);
    socket.on('error', (error: NodeJS.ErrnoException) =>
      this.log.debug({ code: error.code }, 'socket error'),
    );
    socket.on('close', () => {
      if (!this.responded) this.cancellation.abort();
      // Checked first: the error's stack trace costs more than the rest of a short request.
      if (this.requestBody !== null && !this.requestBody.settled) {
        this.requestBody.fail(
          new ProtocolError('ERR_CONNECTION_CLOSED', 'the front end closed the connection'),
        );
      }
      onClose();
    });
  }

  // --- parser events ---------------------------------------------------------------------------

  headers(pairs: HeaderPairs, contentLength: number): void {
    let vars;
    try {
      vars = buildCgiVariables(pairs, this.context.environ);
    } catch (error) {
      this.refuse(error as ProtocolError);
      return;
    }
    const load = this.context.load;
    if (load.active >= this.context.limits.maxConcurrent) {
      load.overloaded++;
      this.refuse(new ProtocolError('ERR_OVERLOADED', 'too many requests in flight: overloaded', 503));
      return;
    }
    load.active++;
    this.vars = vars;
    this.requestBody = new LazyBody(
      () =>
        new RequestBody(this, contentLength, (bytes) =>
          this.log.warn({ bytes }, 'discarded bytes sent after the request body'),
        ),
    );
    void runApp(this.context.app, createEnviron(vars, this), this).then(() => load.finished(this));
  }

  body(chunk: Buffer): void {
    this.requestBody?.deliver(chunk);
  }

  bodyEnd(): void {
    this.requestBody?.finish();
  }

  // --- RequestContext: made on first use ---------------------------------------------------------

  get log(): Logger {
    return (this.connectionLog ??= this.context.log.child({
      protocol: 'scgi',
      conn: this.id,
      req: this.requestId,
    }));
  }

  get input(): RequestBody {
    return this.requestBody!.stream;
  }

  get errors(): Writable {
    return errorsStream((text) =>
      this.log.error({ appErrors: text.toString() }, 'app wrote to sluice.errors'),
    );
  }

  get signal(): AbortSignal {
    return this.cancellation.signal;
  }

  get multiprocess(): boolean {
    return this.context.multiprocess;
  }

  excess(bytes: number): void {
    this.log.warn({ bytes }, 'discarded bytes sent after the request body');
  }

  error(error: ScgiProtocolError): void {
    if (this.requestBody === null) {
      this.refuse(error);
      return;
    }
    // The body can never complete: the request is lost, whatever the app was doing.
    this.log.warn({ code: error.code }, error.message);
    this.requestBody.fail(error);
    this.cancellation.abort();
    this.socket.destroy();
  }

  /** Bad request before any app ran: answer with its status where there is one, then close. */
  private refuse(error: ProtocolError): void {
    this.log.warn({ code: error.code, status: error.status }, error.message);
    if (error.status === undefined || this.socket.destroyed) {
      this.socket.destroy();
      return;
    }
    this.respondPlain(error.status);
  }

  private respondPlain(code: number): void {
    const { head, body } = plainResponse(code);
    this.responded = true;
    this.status = code;
    this.socket.write(serializeHead(head, body));
    endAndDrain(this.socket, this.context.limits);
  }

  // --- timeouts ----------------------------------------------------------------------------------

  expire(now: number): void {
    const limits = this.context.limits;
    if (this.vars === null) {
      if (!this.responded && now - this.startedAt > limits.headerTimeout) {
        this.context.load.timeouts++;
        this.refuse(
          new ProtocolError('ERR_HEADER_TIMEOUT', 'headers not received within --header-timeout', 408),
        );
      }
    } else if (!this.responded && limits.requestTimeout > 0 && now - this.startedAt > limits.requestTimeout) {
      this.timeOut();
    }
  }

  /** The app ran past --request-timeout: its signal aborts; a 504, or a cut-short response. */
  private timeOut(): void {
    const error = new ProtocolError(
      'ERR_REQUEST_TIMEOUT',
      'response not finished within --request-timeout',
      504,
    );
    this.log.warn({ code: error.code }, error.message);
    this.context.load.timeouts++;
    this.cancellation.abort();
    if (this.requestBody !== null && !this.requestBody.settled) this.requestBody.fail(error);
    if (this.status === 0) {
      this.respondPlain(504);
      return;
    }
    this.responded = true;
    this.socket.destroy();
  }

  // --- body flow control -----------------------------------------------------------------------

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    if (!this.responded) this.socket.resume();
  }

  // --- response transport ----------------------------------------------------------------------

  sendHead(response: ResponseHead, first: Buffer | null, bodyLength?: number): Promise<void> | undefined {
    const head = withContentLength(response, bodyLength);
    if (this.socket.destroyed || this.responded) return undefined;
    this.status = head.code;
    if (first !== null) this.bytes += first.length;
    // A long first chunk is not worth copying next to the head: it goes in a writev of its own.
    if (first !== null && first.length > SAME_WRITE_BODY) {
      this.socket.cork();
      this.socket.write(serializeHead(head));
      const flushed = this.socket.write(first);
      this.socket.uncork();
      return this.drain.wait(flushed);
    }
    return this.drain.wait(this.socket.write(serializeHead(head, first)));
  }

  sendBody(chunk: Buffer): Promise<void> | undefined {
    if (this.socket.destroyed || this.responded) return undefined;
    this.bytes += chunk.length;
    return this.drain.wait(this.socket.write(chunk));
  }

  end(): void {
    if (this.responded) return;
    this.responded = true;
    endAndDrain(this.socket, this.context.limits);
  }

  abort(error: Error): void {
    // SCGI cannot signal an error after the head: closing at once is what lets a front end see a
    // short body (when Content-Length was declared).
    this.log.warn({ err: error }, 'response aborted after its head was sent');
    this.responded = true;
    this.aborted = true;
    this.socket.destroy();
  }

  // --- daemon stop -------------------------------------------------------------------------------

  /**
   * Nothing to do: an SCGI connection closes after its one response, and one whose request has not
   * arrived yet is a front end about to send it (closing it would fail that request). The header
   * timeout bounds the wait.
   */
  shutdown(): void {}

  destroy(): void {
    this.socket.destroy();
  }

  /** Nothing to hand over: an SCGI connection ends with its one response. */
  retire(): void {
    this.shutdown();
  }
}
