// A small FastCGI client for tests: sends requests (several ids per connection, any flags) with the
// project's own record writer and collects, per request id, what the daemon answered, record by record.
import net from 'node:net';
import { netConnectOptions } from '../../src/client/connect';
import { requestHeadRecords } from '../../src/client/fastcgi-client';
import { FCGI_HEADER_LEN, FCGI_STDIN, FCGI_DATA } from '../../src/fastcgi/constants';
import type { PairList } from '../../src/fastcgi/pairs';
import { decodeHeader, encodeHeader, paddingFor } from '../../src/fastcgi/record';
import { ReplyParser } from '../../src/fastcgi/reply-parser';
import {
  abortRequestRecord,
  dataRecords,
  getValuesRecord,
  stdinRecords,
  streamEndRecord,
} from '../../src/fastcgi/writer';
import { parseCgiResponse, requestVariables, type CgiResponse } from './scgi';

/** One record header as it came off the wire, in arrival order. */
export interface ReceivedRecord {
  type: number;
  requestId: number;
  contentLength: number;
  paddingLength: number;
  /** ms since the connection opened. */
  at: number;
}

/** Everything the daemon sent for one request id. */
export class RequestReply {
  readonly chunks: Buffer[] = [];
  /** How many empty STDOUT records arrived (1 when the response is complete, never more). */
  stdoutEnds = 0;
  stderr = '';
  /** END_REQUEST body, once it arrived. */
  end: { appStatus: number; protocolStatus: number; at: number } | undefined;

  constructor(readonly id: number) {}

  get stdout(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** STDOUT parsed as a CGI response: Status, headers, body. */
  response(): CgiResponse {
    return parseCgiResponse(this.stdout);
  }
}

/** What {@link FastCgiClient.request} sends for one request. */
export interface RequestSpec {
  /** [name, value] pairs, in order. */
  params: ReadonlyArray<readonly [string, string]>;
  /** STDIN bytes; the empty STDIN record follows unless `endStdin` is false. */
  stdin?: Buffer;
  endStdin?: boolean;
  /** DATA bytes for the Filter role, sent after STDIN, then the empty DATA record. */
  data?: Buffer;
  role?: number;
  /** FCGI_KEEP_CONN (default true). */
  keepConn?: boolean;
  /** Largest record content for PARAMS / STDIN (default 65535): small values make pairs straddle records. */
  paramsMaxContent?: number;
  stdinMaxContent?: number;
}

/** Standard variables of a request to `uri`, as nginx's fastcgi_params would send them. */
export const fcgiParams = requestVariables;

/** The records of one whole request, BEGIN_REQUEST to the end of STDIN (and DATA). */
export function requestRecords(id: number, spec: RequestSpec): Buffer[] {
  const out = requestHeadRecords(id, spec.params, {
    role: spec.role,
    keepConn: spec.keepConn !== false,
    paramsMaxContent: spec.paramsMaxContent,
  });
  if (spec.stdin !== undefined) out.push(...stdinRecords(id, spec.stdin, spec.stdinMaxContent));
  if (spec.endStdin !== false) out.push(streamEndRecord(FCGI_STDIN, id));
  if (spec.data !== undefined) {
    out.push(...dataRecords(id, spec.data), streamEndRecord(FCGI_DATA, id));
  }
  return out;
}

/** Any record, built by hand (bad versions, odd lengths, unknown types). */
export function rawRecord(
  type: number,
  requestId: number,
  content: Buffer = Buffer.alloc(0),
  options: { version?: number; padding?: number } = {},
): Buffer {
  const padding = options.padding ?? paddingFor(content.length);
  const header = encodeHeader(type, requestId, content.length, padding);
  if (options.version !== undefined) header[0] = options.version;
  return Buffer.concat([header, content, Buffer.alloc(padding)]);
}

/** Waits until `check()` holds, polling; rejects with `describe()` after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${describe()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * One FastCGI connection to the daemon. Everything received is parsed with ReplyParser and kept:
 * per-id replies, GET_VALUES_RESULT and UNKNOWN_TYPE answers, the order of record headers, and when
 * the daemon closed the connection.
 */
export class FastCgiClient {
  readonly replies = new Map<number, RequestReply>();
  readonly records: ReceivedRecord[] = [];
  readonly getValuesResults: Array<Record<string, string>> = [];
  readonly unknownTypes: number[] = [];
  /** A parse error in what the daemon sent, or a socket error (ECONNRESET). */
  error: Error | undefined;
  /** ms since open when the connection closed; undefined while open. */
  closedAt: number | undefined;
  /** Bytes received in all. */
  received = 0;

  private readonly parser: ReplyParser;
  private readonly opened = Date.now();
  private readonly closedPromise: Promise<void>;
  // Header walker state: the record log is kept apart from ReplyParser, which does not report headers.
  private headerBytes = Buffer.alloc(FCGI_HEADER_LEN);
  private headerFill = 0;
  private skip = 0;

  private constructor(readonly socket: net.Socket) {
    this.parser = new ReplyParser({
      stdout: (id, chunk) => this.reply(id).chunks.push(Buffer.from(chunk)),
      stdoutEnd: (id) => this.reply(id).stdoutEnds++,
      stderr: (id, chunk) => (this.reply(id).stderr += chunk.toString('latin1')),
      endRequest: (id, appStatus, protocolStatus) => {
        this.reply(id).end = { appStatus, protocolStatus, at: this.now() };
      },
      getValuesResult: (pairs: PairList) => {
        const result: Record<string, string> = {};
        for (let i = 0; i < pairs.length; i += 2) result[pairs[i]] = pairs[i + 1];
        this.getValuesResults.push(result);
      },
      unknownType: (type) => this.unknownTypes.push(type),
      error: (error) => (this.error ??= error),
    });
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      this.walkHeaders(chunk);
      this.parser.push(chunk);
    });
    socket.on('error', (error) => (this.error ??= error));
    this.closedPromise = new Promise((resolve) =>
      socket.on('close', () => {
        this.closedAt = this.now();
        resolve();
      }),
    );
  }

  /** Connects to `unix:/path` or `host:port`. */
  static connect(address: string, timeoutMs = 5000): Promise<FastCgiClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(netConnectOptions(address));
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no connection to ${address} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new FastCgiClient(socket));
      });
    });
  }

  now(): number {
    return Date.now() - this.opened;
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  reply(id: number): RequestReply {
    let reply = this.replies.get(id);
    if (reply === undefined) {
      reply = new RequestReply(id);
      this.replies.set(id, reply);
    }
    return reply;
  }

  /** Writes raw bytes; resolves once they were handed to the kernel. */
  send(bytes: Buffer | Buffer[]): Promise<void> {
    const parts = Array.isArray(bytes) ? bytes : [bytes];
    if (parts.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.cork();
      for (let i = 0; i < parts.length - 1; i++) this.socket.write(parts[i]);
      this.socket.write(parts[parts.length - 1], () => resolve());
      this.socket.uncork();
    });
  }

  /** Sends one whole request and resolves when its records were written. */
  begin(id: number, spec: RequestSpec): Promise<void> {
    return this.send(requestRecords(id, spec));
  }

  /** Sends one whole request and waits for its END_REQUEST. */
  async request(id: number, spec: RequestSpec, timeoutMs = 10_000): Promise<RequestReply> {
    await this.begin(id, spec);
    return this.waitEnd(id, timeoutMs);
  }

  getValues(names: string[]): Promise<void> {
    return this.send(getValuesRecord(names));
  }

  abort(id: number): Promise<void> {
    return this.send(abortRequestRecord(id));
  }

  /** Resolves with the reply once END_REQUEST for `id` arrived. */
  async waitEnd(id: number, timeoutMs = 10_000): Promise<RequestReply> {
    await until(
      () => this.replies.get(id)?.end !== undefined || this.error !== undefined,
      timeoutMs,
      () => this.describe(`END_REQUEST for id ${id}`),
    );
    if (this.replies.get(id)?.end === undefined) throw this.error!;
    return this.reply(id);
  }

  /** Waits until `check()` holds or the connection closed. */
  waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    return until(
      () => check() || this.closed,
      timeoutMs,
      () => this.describe(what),
    );
  }

  /** Resolves once the daemon closed the connection; rejects after `timeoutMs`. */
  async waitClose(timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closedPromise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(this.describe('the daemon to close'))), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Stays open for `ms` (resolves false) unless the daemon closes first (resolves true). */
  async closesWithin(ms: number): Promise<boolean> {
    await Promise.race([this.closedPromise, new Promise((r) => setTimeout(r, ms))]);
    return this.closed;
  }

  /** Closes our side abruptly. */
  destroy(): void {
    this.socket.destroy();
  }

  private describe(what: string): string {
    const ids = [...this.replies.values()].map(
      (r) => `${r.id}: ${r.chunks.length} stdout chunks, end ${JSON.stringify(r.end)}`,
    );
    return `waiting for ${what}; received ${this.received} bytes, closed ${this.closed}, error ${this.error?.message}; ${ids.slice(0, 10).join('; ')}`;
  }

  private walkHeaders(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, chunk.length - at);
        this.skip -= take;
        at += take;
        continue;
      }
      const take = Math.min(FCGI_HEADER_LEN - this.headerFill, chunk.length - at);
      chunk.copy(this.headerBytes, this.headerFill, at, at + take);
      this.headerFill += take;
      at += take;
      if (this.headerFill < FCGI_HEADER_LEN) return;
      this.headerFill = 0;
      const header = decodeHeader(this.headerBytes);
      this.records.push({
        type: header.type,
        requestId: header.requestId,
        contentLength: header.contentLength,
        paddingLength: header.paddingLength,
        at: this.now(),
      });
      this.skip = header.contentLength + header.paddingLength;
    }
  }
}

/** Opens a connection, runs one request on it, and closes it. */
export async function fcgiRequest(
  address: string,
  spec: RequestSpec,
  timeoutMs = 10_000,
): Promise<RequestReply> {
  const client = await FastCgiClient.connect(address);
  try {
    return await client.request(1, spec, timeoutMs);
  } finally {
    client.destroy();
  }
}

/** One record as a fake FastCGI server receives it, its content copied out of the stream. */
export interface IncomingRecord {
  readonly type: number;
  readonly id: number;
  readonly content: Buffer;
}

/** A socket 'data' listener that cuts the stream into whole records and hands each to `onRecord`. */
export function recordListener(onRecord: (record: IncomingRecord) => void): (chunk: Buffer) => void {
  let buffer = Buffer.alloc(0);
  return (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    while (buffer.length >= 8) {
      const length = buffer.readUInt16BE(4);
      const total = 8 + length + buffer[6]!;
      if (buffer.length < total) break;
      const record = {
        type: buffer[1]!,
        id: buffer.readUInt16BE(2),
        content: Buffer.from(buffer.subarray(8, 8 + length)),
      };
      buffer = buffer.subarray(total);
      onRecord(record);
    }
  };
}
