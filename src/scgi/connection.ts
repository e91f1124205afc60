// One SCGI connection: parser events to a gateway request, the CGI response back, then close.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ProtocolError } from '../errors';
import type { ConnectionHandler, ServeContext, TrackedConnection } from '../gateway/context';
import { DrainGate, endAndDrain } from '../gateway/drain';
import { runApp } from '../gateway/driver';
import { buildCgiVariables, createEnviron } from '../gateway/environ';
import { errorsStream } from '../gateway/errors-stream';
import { RequestBody, type BodySource } from '../gateway/input';
import { plainResponse } from '../gateway/plain-response';
import { serializeHead, withContentLength, type ResponseHead } from '../gateway/response-head';
import type { ResponseTransport } from '../gateway/transport';
import type { ScgiProtocolError } from './errors';
import { ScgiParser, type HeaderPairs, type ScgiSink } from './parser';

let nextConnectionId = 0;

/** SCGI carries one request per connection; the connection ends with the response. */
export const serveScgi: ConnectionHandler = (socket, context, onClose) =>
  new ScgiConnection(socket, context, onClose);

class ScgiConnection implements ScgiSink, ResponseTransport, BodySource, TrackedConnection {
  private readonly parser: ScgiParser;
  private readonly log: Logger;
  private readonly controller = new AbortController();
  private input: RequestBody | null = null;
  /** The app is running; stop must wait for it. */
  private busy = false;
  private responded = false;
  private readonly drain: DrainGate;

  constructor(
    private readonly socket: Socket,
    private readonly context: ServeContext,
    onClose: () => void,
  ) {
    this.log = context.log.child({ protocol: 'scgi', conn: ++nextConnectionId });
    this.parser = new ScgiParser(this, {
      maxHeaderBytes: context.limits.scgiMaxHeaderBytes,
      maxBodyBytes: context.limits.maxBodyBytes,
    });
    socket.on('data', (chunk: Buffer) => this.parser.push(chunk));
    socket.on('end', () => {
      this.parser.end();
      // nginx, Apache and lighttpd keep their side open until they have read the response, so an
      // end of input before it means the front end gave up (its client went away): stop the app.
      if (!this.responded && !socket.destroyed) {
        this.controller.abort();
        socket.destroy();
      }
    });
    this.drain = new DrainGate(socket);
    socket.on('error', (error: NodeJS.ErrnoException) =>
      this.log.debug({ code: error.code }, 'socket error'),
    );
    socket.on('close', () => {
      if (!this.responded) this.controller.abort();
      // Checked first: the error's stack trace costs more than the rest of a short request.
      if (this.input !== null && !this.input.settled) {
        this.input.fail(new ProtocolError('ERR_CONNECTION_CLOSED', 'the front end closed the connection'));
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
    const log = this.log;
    this.input = new RequestBody(this, contentLength, (bytes) =>
      log.warn({ bytes }, 'discarded bytes sent after the request body'),
    );
    const environ = createEnviron(vars, {
      input: this.input,
      errors: errorsStream((text) => log.error({ appErrors: text.toString() }, 'app wrote to sluice.errors')),
      signal: this.controller.signal,
      protocol: 'scgi',
      log,
      multiprocess: this.context.multiprocess,
    });
    this.busy = true;
    void runApp(this.context.app, environ, this, log).then(() => {
      this.busy = false;
    });
  }

  body(chunk: Buffer): void {
    this.input?.deliver(chunk);
  }

  bodyEnd(): void {
    this.input?.finish();
  }

  excess(bytes: number): void {
    this.log.warn({ bytes }, 'discarded bytes sent after the request body');
  }

  error(error: ScgiProtocolError): void {
    if (this.input === null) {
      this.refuse(error);
      return;
    }
    // The body can never complete: the request is lost, whatever the app was doing.
    this.log.warn({ code: error.code }, error.message);
    this.input.fail(error);
    this.controller.abort();
    this.socket.destroy();
  }

  /** Bad request before any app ran: answer with its status where there is one, then close. */
  private refuse(error: ProtocolError): void {
    this.log.warn({ code: error.code, status: error.status }, error.message);
    if (error.status === undefined || this.socket.destroyed) {
      this.socket.destroy();
      return;
    }
    const { head, body } = plainResponse(error.status);
    this.responded = true;
    this.socket.cork();
    this.socket.write(serializeHead(head));
    this.socket.write(body);
    this.socket.uncork();
    endAndDrain(this.socket, this.context.limits);
  }

  // --- body flow control -----------------------------------------------------------------------

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    if (!this.responded) this.socket.resume();
  }

  // --- response transport ----------------------------------------------------------------------

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  sendHead(response: ResponseHead, first: Buffer | null, bodyLength?: number): Promise<void> | undefined {
    const head = withContentLength(response, bodyLength);
    if (this.socket.destroyed) return undefined;
    if (first === null) return this.drain.wait(this.socket.write(serializeHead(head)));
    this.socket.cork();
    this.socket.write(serializeHead(head));
    const flushed = this.socket.write(first);
    this.socket.uncork();
    return this.drain.wait(flushed);
  }

  sendBody(chunk: Buffer): Promise<void> | undefined {
    if (this.socket.destroyed) return undefined;
    return this.drain.wait(this.socket.write(chunk));
  }

  end(): void {
    this.responded = true;
    endAndDrain(this.socket, this.context.limits);
  }

  abort(error: Error): void {
    // SCGI cannot signal an error after the head: closing at once is what lets a front end see a
    // short body (when Content-Length was declared).
    this.log.warn({ err: error }, 'response aborted after its head was sent');
    this.responded = true;
    this.socket.destroy();
  }

  // --- daemon stop -------------------------------------------------------------------------------

  shutdown(): void {
    if (!this.busy && this.input === null) this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
