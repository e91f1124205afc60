// A small HTTP/1.1 client over node:http for integration tests: whole-body requests, streaming
// requests that hash the body without buffering it (10 MiB+ responses), and requests that can be
// aborted mid-response. Every request uses its own connection unless an agent is passed.
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import { Readable } from 'node:stream';

export interface RequestOptions {
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default GET. */
  method?: string;
  /** Request target, default '/'. Sent as is (no normalisation). */
  path?: string;
  headers?: http.OutgoingHttpHeaders;
  /**
   * Buffer/string bodies get a Content-Length unless headers set one or Transfer-Encoding; a Readable
   * is sent chunked unless headers carry a Content-Length.
   */
  body?: Buffer | string | Readable;
  /** Whole-exchange deadline (default 10 s); the request is destroyed and the promise rejects. */
  timeoutMs?: number;
  /** Default false: a fresh connection per request (Connection: close). */
  agent?: http.Agent | false;
}

export interface ResponseHead {
  status: number;
  statusMessage: string;
  /** Lower-cased names; repeated headers joined as node:http does (set-cookie stays an array). */
  headers: http.IncomingHttpHeaders;
  /** Names and values as received, alternating. */
  rawHeaders: string[];
}

export interface HttpResponse extends ResponseHead {
  body: Buffer;
  trailers: NodeJS.Dict<string>;
}

export interface StreamedResponse extends ResponseHead {
  /** Body bytes received. */
  bytes: number;
  /** Hex sha256 of the body. */
  sha256: string;
  trailers: NodeJS.Dict<string>;
}

export interface PendingRequest {
  req: http.ClientRequest;
  /** Resolves with the response once its head arrived. */
  response: Promise<http.IncomingMessage>;
  /** Destroys the connection (client-side abort), mid-request or mid-response. */
  abort(): void;
}

const hasHeader = (headers: http.OutgoingHttpHeaders, name: string) =>
  Object.keys(headers).some((key) => key.toLowerCase() === name);

/**
 * Sends a request and returns it with its response promise; the caller consumes the response and
 * may abort() at any time. The timeout covers the whole exchange and destroys the request.
 */
export function startRequest(options: RequestOptions): PendingRequest {
  const headers: http.OutgoingHttpHeaders = { ...(options.headers ?? {}) };
  const body = options.body;
  if (
    (typeof body === 'string' || Buffer.isBuffer(body)) &&
    !hasHeader(headers, 'content-length') &&
    !hasHeader(headers, 'transfer-encoding')
  ) {
    headers['content-length'] = Buffer.byteLength(body);
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const req = http.request({
    host: options.host ?? '127.0.0.1',
    port: options.port,
    method: options.method ?? 'GET',
    path: options.path ?? '/',
    headers,
    agent: options.agent ?? false,
  });
  const timer = setTimeout(() => {
    req.destroy(
      new Error(`${options.method ?? 'GET'} ${options.path ?? '/'} timed out after ${timeoutMs} ms`),
    );
  }, timeoutMs);
  const clear = () => clearTimeout(timer);
  req.once('close', clear);

  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once('response', (res) => {
      res.once('close', clear);
      resolve(res);
    });
    req.once('error', (err) => {
      clear();
      reject(err);
    });
  });
  // Avoid unhandled rejections when the caller only aborts.
  response.catch(() => undefined);

  if (body instanceof Readable) {
    body.on('error', (err) => req.destroy(err));
    body.pipe(req);
  } else {
    req.end(body);
  }

  return { req, response, abort: () => req.destroy() };
}

function head(res: http.IncomingMessage): ResponseHead {
  return {
    status: res.statusCode ?? 0,
    statusMessage: res.statusMessage ?? '',
    headers: res.headers,
    rawHeaders: res.rawHeaders,
  };
}

/** Consumes a response, calling onChunk for each body chunk; rejects if it ends prematurely. */
function consume(
  pending: PendingRequest,
  res: http.IncomingMessage,
  onChunk: (chunk: Buffer) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    res.on('data', onChunk);
    res.once('end', resolve);
    res.once('error', reject);
    res.once('aborted', () => reject(new Error('response aborted by the server')));
    pending.req.once('error', reject);
    res.once('close', () => {
      if (!res.complete) reject(new Error('connection closed before the response was complete'));
    });
  });
}

/** Sends a request and buffers the whole response body. */
export async function request(options: RequestOptions): Promise<HttpResponse> {
  const pending = startRequest(options);
  const res = await pending.response;
  const chunks: Buffer[] = [];
  await consume(pending, res, (chunk) => chunks.push(chunk));
  return { ...head(res), body: Buffer.concat(chunks), trailers: res.trailers };
}

/** Sends a request and hashes the response body as it streams in, without keeping it. */
export async function requestStream(options: RequestOptions): Promise<StreamedResponse> {
  const pending = startRequest(options);
  const res = await pending.response;
  const hash = createHash('sha256');
  let bytes = 0;
  await consume(pending, res, (chunk) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  return { ...head(res), bytes, sha256: hash.digest('hex'), trailers: res.trailers };
}

/**
 * Reads the response until at least `abortAfterBytes` body bytes arrived (0: right after the head),
 * then destroys the connection. Resolves with what was received; `complete` says whether the whole
 * body had already arrived before the abort.
 */
export async function requestAndAbort(
  options: RequestOptions & { abortAfterBytes: number },
): Promise<ResponseHead & { bytes: number; complete: boolean }> {
  const pending = startRequest(options);
  const res = await pending.response;
  let bytes = 0;
  if (options.abortAfterBytes <= 0) {
    pending.abort();
    return { ...head(res), bytes, complete: false };
  }
  return new Promise((resolve) => {
    let settled = false;
    const finish = (complete: boolean) => {
      if (settled) return;
      settled = true;
      pending.abort();
      resolve({ ...head(res), bytes, complete });
    };
    res.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes >= options.abortAfterBytes) finish(false);
    });
    res.once('end', () => finish(true));
    res.once('close', () => finish(res.complete));
  });
}

/** A Readable producing `size` deterministic pseudo-random bytes (and their sha256 via digest()). */
export function patternStream(size: number, chunkSize = 64 * 1024): Readable & { digest(): string } {
  const hash = createHash('sha256');
  let sent = 0;
  let seed = 0x9e3779b9;
  const stream = new Readable({
    read() {
      if (sent >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(chunkSize, size - sent);
      const chunk = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        chunk[i] = seed >>> 24;
      }
      sent += n;
      hash.update(chunk);
      this.push(chunk);
    },
  }) as Readable & { digest(): string };
  let digest: string | undefined;
  stream.digest = () => {
    if (sent < size) throw new Error('patternStream: digest() before the stream was fully read');
    return (digest ??= hash.digest('hex'));
  };
  return stream;
}
