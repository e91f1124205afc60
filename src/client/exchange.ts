// One request on its own connection, protocol aside: the output stream, timeouts, aborts, body pumping.
import type net from 'node:net';
import { Readable } from 'node:stream';
import { connect, DEFAULT_TIMEOUT_MS, resolveAddress } from './connect';
import { ClientError } from './errors';
import type { ClientOptions } from './types';

/**
 * The raw CGI output of one request (head and body, as the application wrote them). Reading slower
 * than the server writes pauses the socket; destroying the stream closes the connection.
 */
export class CgiOutput extends Readable {
  private socket: net.Socket | undefined;
  private settled = false;

  /** True once the output ended or failed. */
  get done(): boolean {
    return this.settled;
  }

  /** @internal The connection the output comes from. */
  attach(socket: net.Socket): void {
    this.socket = socket;
  }

  /** @internal Response bytes; the socket waits while the reader is behind. */
  deliver(chunk: Buffer): void {
    if (this.settled) return;
    if (!this.push(chunk)) this.socket?.pause();
  }

  /** @internal The response is complete. */
  finish(): void {
    if (this.settled) return;
    this.settled = true;
    this.push(null);
    this.socket?.destroy();
  }

  /** @internal The exchange broke off. */
  fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.destroy(error);
  }

  override _read(): void {
    this.socket?.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.settled = true;
    this.socket?.destroy();
    callback(error);
  }
}

/** Connects once `run` asks; `run` drives the protocol and reports through `output`. */
export type ExchangeRun = (output: CgiOutput, open: () => Promise<net.Socket>) => Promise<void>;

/**
 * Starts one exchange and returns its output at once; every failure (connect, timeout, abort, a
 * protocol error thrown by `run`) becomes an 'error' on the output carrying a ClientError.
 */
export function startExchange(options: ClientOptions, run: ExchangeRun): CgiOutput {
  const output = new CgiOutput();
  const address = resolveAddress(options.address);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const signal = options.signal;
  const onAbort = (): void => output.fail(new ClientError('ERR_CLIENT_ABORTED', 'request aborted'));
  signal?.addEventListener('abort', onAbort, { once: true });
  output.once('close', () => signal?.removeEventListener('abort', onAbort));

  const open = async (): Promise<net.Socket> => {
    const socket = await connect(address, timeoutMs, signal);
    if (output.done) {
      socket.destroy();
      throw new ClientError('ERR_CLIENT_ABORTED', 'request ended before it was sent');
    }
    output.attach(socket);
    socket.setNoDelay(true);
    socket.setTimeout(timeoutMs, () =>
      output.fail(new ClientError('ERR_CLIENT_TIMEOUT', `nothing sent or received for ${timeoutMs} ms`)),
    );
    socket.on('error', (error: NodeJS.ErrnoException) =>
      output.fail(
        new ClientError('ERR_CLIENT_CLOSED', `connection lost (${error.code ?? error.message})`, {
          cause: error,
        }),
      ),
    );
    return socket;
  };

  run(output, open).catch((error: unknown) =>
    output.fail(
      error instanceof ClientError
        ? error
        : new ClientError('ERR_CLIENT_BODY', `request failed: ${(error as Error)?.message}`, {
            cause: error,
          }),
    ),
  );
  return output;
}

/** Writes buffers as one writev; resolves at once, or when the socket drained if it is full. */
export function writeParts(socket: net.Socket, parts: readonly Buffer[]): Promise<void> {
  socket.cork();
  let full = false;
  for (const part of parts) full = !socket.write(part) || full;
  socket.uncork();
  if (!full || socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

/** Bytes as a Buffer view (no copy); strings (from a stream with an encoding set) as latin1. */
export function bytesOf(chunk: Uint8Array | string): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'latin1');
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * Sends a stream body chunk by chunk, framed by `frame`, waiting for the socket whenever it is full
 * so memory stays bounded. Stops when `stop()` turns true (the response already ended) or after
 * `limit` bytes; resolves with the bytes sent. A failing body rejects with ERR_CLIENT_BODY.
 */
export async function pumpBody(
  socket: net.Socket,
  body: Readable | AsyncIterable<Uint8Array>,
  frame: (chunk: Buffer) => Buffer[],
  stop: () => boolean,
  limit = Infinity,
): Promise<number> {
  let sent = 0;
  try {
    for await (const piece of body as AsyncIterable<Uint8Array | string>) {
      if (stop()) break;
      let chunk = bytesOf(piece);
      if (chunk.length === 0) continue;
      if (sent + chunk.length > limit) chunk = chunk.subarray(0, limit - sent);
      sent += chunk.length;
      await writeParts(socket, frame(chunk));
      if (sent >= limit) break;
    }
  } catch (error) {
    if (error instanceof ClientError) throw error;
    throw new ClientError('ERR_CLIENT_BODY', `reading the request body failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return sent;
}

/** The value of a non-empty CONTENT_LENGTH among `params`, or undefined. Throws on anything but digits. */
export function declaredLength(params: ReadonlyArray<readonly [string, string]>): number | undefined {
  for (const [name, value] of params) {
    if (name !== 'CONTENT_LENGTH' || value === '') continue;
    if (!/^\d{1,15}$/.test(value)) {
      throw new ClientError('ERR_CLIENT_BODY', `CONTENT_LENGTH ${JSON.stringify(value)} is not a number`);
    }
    return Number(value);
  }
  return undefined;
}
