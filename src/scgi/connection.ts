// The SCGI transport: one connection carries one request; parser events in, the CGI response out, then close.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ProtocolError } from '../errors';
import type { ConnectionHandler, ServeContext, TrackedConnection } from '../runtime/context';
import { DrainGate, endAndDrain } from '../runtime/drain';
import { ServerRequest, type RequestTransport } from '../runtime/request';
import { serializeHead, withContentLength, type ResponseHead } from '../gateway/response-head';
import type { ScgiProtocolError } from './errors';
import { ScgiParser, type HeaderPairs, type ScgiSink } from './parser';

let nextConnectionId = 0;

/** Bytes of body copied into the head's buffer, to leave in one write with it. */
const SAME_WRITE_BODY = 16 * 1024;

/** SCGI carries one request per connection; the connection ends with the response. */
export const serveScgi: ConnectionHandler = (socket, context, onClose) =>
  new ScgiConnection(socket, context, onClose);

class ScgiConnection implements ScgiSink, RequestTransport, TrackedConnection {
  readonly protocol = 'scgi';
  /** Never shared: one request per connection, so a slow reader pauses the socket. */
  readonly sharedInput = false;
  private readonly id = ++nextConnectionId;
  // One request per connection: made at accept, so --header-timeout counts from there (slowloris).
  private readonly request: ServerRequest;
  private readonly parser: ScgiParser;
  private connectionLog: Logger | null = null;
  /** Our side is done (response sent, or the connection given up): the socket only drains now. */
  private closed = false;
  private readonly drain: DrainGate;

  constructor(
    private readonly socket: Socket,
    private readonly context: ServeContext,
    onClose: () => void,
  ) {
    this.request = new ServerRequest(this, context);
    this.parser = new ScgiParser(this, { maxHeaderBytes: context.limits.maxHeaderBytes });
    socket.on('data', (chunk: Buffer) => this.parser.push(chunk));
    socket.on('end', () => {
      this.parser.end();
      // nginx, Apache and lighttpd keep their side open until they have read the response, so an
      // end of input before it means the front end gave up (its client went away): stop the app.
      if (!this.closed && !socket.destroyed) socket.destroy();
    });
    this.drain = new DrainGate(socket);
    socket.on('error', (error: NodeJS.ErrnoException) =>
      this.log.debug({ code: error.code }, 'socket error'),
    );
    socket.on('close', () => {
      // Checked first: the error's stack trace costs more than the rest of a short request.
      if (!this.request.finished) {
        this.request.abandon(
          new ProtocolError('ERR_CONNECTION_CLOSED', 'the front end closed the connection'),
        );
      }
      onClose();
    });
  }

  get log(): Logger {
    return (this.connectionLog ??= this.context.log.child({
      protocol: 'scgi',
      conn: this.id,
      req: this.request.requestId,
    }));
  }

  // --- parser events ---------------------------------------------------------------------------

  headers(pairs: HeaderPairs): void {
    this.request.start(pairs);
  }

  body(chunk: Buffer): void {
    this.request.body(chunk);
  }

  bodyEnd(): void {
    this.request.bodyEnd();
  }

  excess(bytes: number): void {
    this.log.warn({ bytes }, 'discarded bytes sent after the request body');
  }

  error(error: ScgiProtocolError): void {
    if (error.status === undefined) {
      // The input ended before the request was whole: nothing to answer, and a body that can never
      // complete loses the request, whatever the app was doing.
      this.log.warn({ code: error.code }, error.message);
      this.request.abandon(error);
      this.socket.destroy();
      return;
    }
    this.request.protocolError(error);
  }

  // --- RequestTransport ------------------------------------------------------------------------

  pauseInput(paused: boolean): void {
    if (paused) this.socket.pause();
    else if (!this.closed) this.socket.resume();
  }

  errorText(text: Buffer): void {
    this.log.error({ appErrors: text.toString() }, 'app wrote to sluice.errors');
  }

  sendHead(response: ResponseHead, first: Buffer | null, bodyLength?: number): Promise<void> | undefined {
    if (this.socket.destroyed || this.closed) return undefined;
    const head = withContentLength(response, bodyLength);
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
    if (this.socket.destroyed || this.closed) return undefined;
    return this.drain.wait(this.socket.write(chunk));
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    endAndDrain(this.socket, this.context.limits);
  }

  abort(error: Error): void {
    // SCGI cannot signal an error after the head: closing at once is what lets a front end see a
    // short body (when Content-Length was declared).
    this.log.warn({ err: error }, 'response aborted after its head was sent');
    this.closed = true;
    this.socket.destroy();
  }

  // --- TrackedConnection -----------------------------------------------------------------------

  expire(now: number): void {
    this.request.expire(now);
  }

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
