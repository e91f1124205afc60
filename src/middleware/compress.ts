// Compression: gzip, brotli or deflate as the client's Accept-Encoding allows, streamed through zlib.
import zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import { bodyAllowed } from '../gateway/response-head';
import type { Body, Chunk, HeaderList, Middleware, StartResponse, WriteFn } from '../gateway/types';
import { byteLength, closeBody, isWhole, toBuffer, wholeChunks } from './body';

export type Encoding = 'br' | 'gzip' | 'deflate';

export interface CompressOptions {
  /** Encodings offered, in order of preference (default br, gzip, deflate). */
  readonly encodings?: readonly Encoding[];
  /** A body whose declared Content-Length is below this many bytes is sent as is (default 1024). */
  readonly threshold?: number;
  /** zlib level for gzip and deflate (default 6); brotli uses quality 4, fit for on-the-fly work. */
  readonly level?: number;
}

// Types whose bytes are compressed already: compressing them again costs CPU and saves nothing.
const COMPRESSED =
  /^(?:image\/(?!svg)|audio\/|video\/|font\/woff|application\/(?:zip|gzip|x-gzip|x-bzip2|x-xz|zstd|x-7z-compressed|x-rar-compressed|pdf|octet-stream)\b)/i;

/**
 * Compresses responses the client accepts compressed. Sets `Content-Encoding`, adds
 * `Vary: Accept-Encoding` to every response that could have been compressed, drops
 * `Content-Length` and weakens a strong ETag (the bytes differ). Leaves alone HEAD, 1xx/204/304,
 * partial content, `Cache-Control: no-transform`, responses with a Content-Encoding already and
 * already-compressed types. A whole body is compressed at once (and gets a length again); anything
 * else streams, each chunk and each write() flushed so that streamed responses stay live.
 */
export function compress(options: CompressOptions = {}): Middleware {
  const offered = options.encodings ?? ['br', 'gzip', 'deflate'];
  const threshold = options.threshold ?? 1024;
  const level = options.level ?? 6;
  return (app) => async (environ, startResponse) => {
    const method = environ.REQUEST_METHOD;
    const accepted = negotiate(environ.HTTP_ACCEPT_ENCODING, offered);
    // Set by each startResponse call; a generator app makes that call only once it is iterated.
    const state: { encoding: Encoding | null; encoder: Encoder | null } = { encoding: null, encoder: null };
    const start: StartResponse = (status, headers, excInfo) => {
      const code = Number(status.slice(0, 3));
      // A second call (an error replacing the status) starts over.
      state.encoder?.discard();
      state.encoding = null;
      state.encoder = null;
      if (!bodyAllowed(method, code) || code === 206 || !compressible(headers, threshold)) {
        return startResponse(status, headers, excInfo);
      }
      const varied = withVary(headers);
      if (accepted === null) return startResponse(status, varied, excInfo);
      const write = startResponse(status, encodedHeaders(varied, accepted), excInfo);
      const encoder = new Encoder(accepted, level);
      state.encoding = accepted;
      state.encoder = encoder;
      const compressing: WriteFn = async (chunk) => {
        for (const out of await encoder.write(toBuffer(chunk))) await write(out);
      };
      return compressing;
    };
    const body = await app(environ, start);
    if (!isWhole(body)) return encoded(body, state);
    const { encoding, encoder } = state;
    if (encoding === null || encoder === null) return body;
    if (encoder.used) return encoded(body, state);
    encoder.discard();
    return Object.assign([compressWhole(encoding, level, wholeChunks(body))], {
      close: () => closeBody(body),
    });
  };
}

/** Streams the body through the encoder the response chose, if it chose one. */
async function* encoded(body: Body, state: { encoder: Encoder | null }): AsyncGenerator<Chunk> {
  try {
    for await (const chunk of (isWhole(body) ? wholeChunks(body) : body) as AsyncIterable<Chunk>) {
      const encoder = state.encoder;
      if (encoder === null) yield chunk;
      else if (byteLength(chunk) > 0) yield* await encoder.write(toBuffer(chunk));
    }
    if (state.encoder !== null) yield* await state.encoder.end();
  } finally {
    state.encoder?.discard();
    await closeBody(body);
  }
}

/** The best offered encoding the Accept-Encoding value allows (q > 0), or null for identity. */
export function negotiate(header: unknown, offered: readonly Encoding[]): Encoding | null {
  if (typeof header !== 'string' || header === '') return null;
  const weights = new Map<string, number>();
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)).find((m) => m !== null);
    weights.set(name.trim(), q ? Number(q[1]) : 1);
  }
  let best: Encoding | null = null;
  let bestWeight = 0;
  for (const candidate of offered) {
    const weight = weights.get(candidate) ?? weights.get('*') ?? 0;
    if (weight > bestWeight) {
      best = candidate;
      bestWeight = weight;
    }
  }
  return best;
}

function compressible(headers: HeaderList, threshold: number): boolean {
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === 'content-encoding') return false;
    if (lower === 'content-type' && COMPRESSED.test(value)) return false;
    if (lower === 'cache-control' && /(?:^|,)\s*no-transform\s*(?:,|$)/i.test(value)) return false;
    if (lower === 'content-length' && Number(value) < threshold) return false;
  }
  return true;
}

function withVary(headers: HeaderList): HeaderList {
  const out: Array<readonly [string, string]> = [];
  let varied = false;
  for (const [name, value] of headers) {
    if (name.toLowerCase() === 'vary') {
      varied = true;
      const has = value.split(',').some((v) => ['accept-encoding', '*'].includes(v.trim().toLowerCase()));
      out.push([name, has ? value : `${value}, Accept-Encoding`]);
    } else out.push([name, value]);
  }
  if (!varied) out.push(['Vary', 'Accept-Encoding']);
  return out;
}

function encodedHeaders(headers: HeaderList, encoding: Encoding): HeaderList {
  const out: Array<readonly [string, string]> = [];
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === 'content-length') continue;
    out.push(lower === 'etag' && !value.startsWith('W/') ? [name, 'W/' + value] : [name, value]);
  }
  out.push(['Content-Encoding', encoding]);
  return out;
}

function compressWhole(encoding: Encoding, level: number, chunks: Chunk[]): Buffer {
  const input = Buffer.concat(chunks.map(toBuffer));
  if (encoding === 'br') return zlib.brotliCompressSync(input, brotliOptions(input.length));
  if (encoding === 'gzip') return zlib.gzipSync(input, { level });
  return zlib.deflateSync(input, { level });
}

function brotliOptions(sizeHint?: number): zlib.BrotliOptions {
  const params: Record<number, number> = { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 };
  if (sizeHint !== undefined) params[zlib.constants.BROTLI_PARAM_SIZE_HINT] = sizeHint;
  return { params };
}

/** A zlib stream driven chunk by chunk: each write is flushed and its output handed back. */
class Encoder {
  private readonly stream: Transform & { flush(callback: () => void): void };
  private output: Buffer[] = [];
  /** Whether anything went through the stream (then a whole body must follow it, not restart). */
  used = false;

  constructor(encoding: Encoding, level: number) {
    const stream =
      encoding === 'br'
        ? zlib.createBrotliCompress(brotliOptions())
        : encoding === 'gzip'
          ? zlib.createGzip({ level })
          : zlib.createDeflate({ level });
    this.stream = stream as unknown as Encoder['stream'];
    this.stream.on('data', (chunk: Buffer) => this.output.push(chunk));
  }

  write(chunk: Buffer): Promise<Buffer[]> {
    this.used = true;
    this.stream.write(chunk);
    return new Promise((resolve) => this.stream.flush(() => resolve(this.take())));
  }

  end(): Promise<Buffer[]> {
    this.used = true;
    return new Promise((resolve, reject) => {
      this.stream.once('error', reject);
      this.stream.once('end', () => resolve(this.take()));
      this.stream.end();
    });
  }

  discard(): void {
    if (!this.stream.destroyed) this.stream.destroy();
  }

  private take(): Buffer[] {
    const taken = this.output;
    this.output = [];
    return taken;
  }
}
