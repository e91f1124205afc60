// The socket a Node request handler sees: a Duplex carrying one request to Node's HTTP server and
// its response back to the gateway's startResponse/write.
import { STATUS_CODES } from 'node:http';
import { Duplex } from 'node:stream';
import { bodyAllowed } from '../gateway/response-head';
import type { Body, Environ, StartResponse, WriteFn } from '../gateway/types';
import { HttpResponseParser, type ResponseSink } from './http-response-parser';
import { NO_BODY } from './no-body';
import { answerPlain } from './refusals';
import type { RequestHead } from './request-head';

// Hop-by-hop headers of the HTTP/1.1 exchange with Node's serializer; a CGI response carries none.
const EMPTY = Buffer.alloc(0);

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade']);

/**
 * Below Node's IncomingMessage and ServerResponse, where Express's prototype swap cannot reach:
 * the readable side delivers the request head and the framed body from `sluice.input` (pausing it
 * while Node's parser is full); the writable side parses what ServerResponse writes and hands the
 * head to startResponse and each body chunk to write(), calling back only once the front end's
 * socket took it, so ServerResponse's own 'drain' reflects the real backpressure.
 */
export class GatewaySocket extends Duplex {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: string | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  /** As on a TLS socket: true when the front end says the client connection is HTTPS. */
  readonly encrypted: true | undefined;
  /** Settles once the response is complete, failed or abandoned: what the adapted app returns. */
  readonly response: Promise<Body>;

  // Not `parser`: Node's http server sets that property on the sockets it serves.
  private readonly responseParser: HttpResponseParser;
  /** The gateway's write(), once the head went to startResponse. */
  private send: WriteFn | null = null;
  /** The last write() not yet taken by the front end's socket. */
  private waiting: Promise<void> | undefined;
  private settled = false;
  private resolveResponse!: (body: Body) => void;
  private rejectResponse!: (error: unknown) => void;
  private inputPaused = false;
  /** A head was parsed and no body followed it in the same write: flushHeaders() or writeHead(). */
  private headOnly = false;
  private onInput: ((chunk: Buffer) => void) | null = null;
  private aborted = false;

  constructor(
    readonly environ: Environ,
    private readonly startResponse: StartResponse,
    head: RequestHead,
  ) {
    super({ readableHighWaterMark: 64 * 1024, writableHighWaterMark: 64 * 1024 });
    this.remoteAddress = stringVar(environ.REMOTE_ADDR);
    this.remotePort = numberVar(environ.REMOTE_PORT);
    this.remoteFamily = this.remoteAddress?.includes(':') ? 'IPv6' : this.remoteAddress && 'IPv4';
    this.localAddress = stringVar(environ.SERVER_ADDR);
    this.localPort = numberVar(environ.SERVER_PORT);
    this.encrypted = environ['sluice.url_scheme'] === 'https' ? true : undefined;
    this.response = new Promise((resolve, reject) => {
      this.resolveResponse = resolve;
      this.rejectResponse = reject;
    });
    const method = environ.REQUEST_METHOD;
    this.responseParser = new HttpResponseParser(this.sink, (code) => bodyAllowed(method, code));
    this.push(head.bytes);
    if (head.framing !== 'none') this.pumpBody(head.framing === 'chunked');
  }

  /** The front end's timeouts govern the connection; Node's keep-alive timer has nothing to close. */
  setTimeout(_ms: number, callback?: () => void): this {
    if (callback) this.once('timeout', callback);
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  /** The front end went away: the request and response see what a closed client connection does. */
  abort(): void {
    this.aborted = true;
    this.destroy();
  }

  /** Ends the exchange with an error: a 500 while nothing was sent, an incomplete response after. */
  fail(error: unknown): void {
    this.settle(error);
    this.destroy();
  }

  /** Answers for the app (a request Node's parser refused): a short plain response, if still possible. */
  answer(code: number): void {
    if (this.send !== null || this.settled) {
      this.destroy();
      return;
    }
    this.settle(undefined, answerPlain(this.startResponse, code));
    this.destroy();
  }

  override _read(): void {
    if (this.inputPaused) {
      this.inputPaused = false;
      this.environ['sluice.input'].resume();
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      this.responseParser.push(chunk);
    } catch (error) {
      this.fail(error);
      callback(error as Error);
      return;
    }
    this.afterWrites(callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    try {
      for (const { chunk } of chunks) this.responseParser.push(chunk);
    } catch (error) {
      this.fail(error);
      callback(error as Error);
      return;
    }
    this.afterWrites(callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    try {
      this.responseParser.end();
    } catch (error) {
      this.fail(error);
    }
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.onInput !== null) this.environ['sluice.input'].off('data', this.onInput);
    if (!this.settled) {
      if (this.aborted) this.settle(undefined, NO_BODY);
      else {
        // A body delimited by the close is complete now; any other is cut short.
        try {
          this.responseParser.end();
        } catch (incomplete) {
          this.settle(error ?? incomplete);
        }
      }
    }
    callback(error);
  }

  private afterWrites(callback: (error?: Error | null) => void): void {
    if (this.headOnly) {
      this.headOnly = false;
      // An empty write sends the head at once, as a real socket would have.
      this.waiting = this.send!(EMPTY);
    }
    const waiting = this.waiting;
    if (waiting === undefined) return callback();
    this.waiting = undefined;
    waiting.then(
      () => callback(),
      (error: Error) => callback(error),
    );
  }

  private readonly sink: ResponseSink = {
    head: (code, reason, headers) => {
      const kept: Array<[string, string]> = [];
      for (const header of headers) if (!HOP_BY_HOP.has(header[0].toLowerCase())) kept.push(header);
      this.send = this.startResponse(`${code} ${reason || STATUS_CODES[code] || 'Unknown'}`, kept);
      this.headOnly = true;
    },
    body: (chunk) => {
      this.headOnly = false;
      this.waiting = this.send!(chunk);
    },
    end: () => {
      this.headOnly = false;
      const waiting = this.waiting;
      if (waiting === undefined) this.settle(undefined, NO_BODY);
      else
        waiting.then(
          () => this.settle(undefined, NO_BODY),
          (error: unknown) => this.settle(error),
        );
    },
  };

  private settle(error: unknown, body?: Body): void {
    if (this.settled) return;
    this.settled = true;
    if (body === undefined) this.rejectResponse(error);
    else this.resolveResponse(body);
  }

  /** Feeds `sluice.input` into the readable side, chunk-framed when its length is unknown. */
  private pumpBody(chunked: boolean): void {
    const input = this.environ['sluice.input'];
    this.onInput = chunked
      ? (chunk: Buffer) => {
          this.push(chunk.length.toString(16) + '\r\n');
          this.push(chunk);
          this.pauseInputUnless(this.push('\r\n'));
        }
      : (chunk: Buffer) => this.pauseInputUnless(this.push(chunk));
    input.on('data', this.onInput);
    input.once('end', () => {
      if (chunked) this.push('0\r\n\r\n');
    });
    // A body that cannot complete (truncated, connection closed): Node's parser sees the request
    // aborted, as with a client that went away.
    input.once('error', () => this.destroy());
  }

  private pauseInputUnless(flowing: boolean): void {
    if (flowing || this.inputPaused) return;
    this.inputPaused = true;
    this.environ['sluice.input'].pause();
  }
}

function stringVar(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function numberVar(value: unknown): number | undefined {
  return typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : undefined;
}
