// Access log: one pino line per request, as JSON fields or in Common/Combined Log Format.
import type { Logger } from 'pino';
import type { Chunk, Environ, Middleware, StartResponse, WriteFn } from '../gateway/types';
import { byteLength, observeBody } from './body';

/** `json`: fields only; `common` and `combined`: Apache's formats as the message, fields as well. */
export type AccessLogFormat = 'json' | 'common' | 'combined';

export interface AccessLogOptions {
  readonly format?: AccessLogFormat;
  /** Where lines go (default: the request's own logger, `sluice.log`). */
  readonly log?: Logger;
}

/** What one line records. */
export interface AccessRecord {
  readonly remote: string;
  readonly user: string | undefined;
  readonly method: string;
  readonly uri: string;
  readonly protocol: string;
  /** 0 when the client went away before a head was sent. */
  readonly status: number;
  readonly bytes: number;
  readonly durationMs: number;
  readonly referer: string | undefined;
  readonly userAgent: string | undefined;
}

/**
 * Logs each request once its response is complete or abandoned (the driver closes the body), with
 * the status the app gave and the body bytes it produced. An app that throws is logged as 500,
 * the answer the daemon gives it.
 */
export function accessLog(options: AccessLogOptions = {}): Middleware {
  const format = options.format ?? 'json';
  return (app) => async (environ, startResponse) => {
    const began = performance.now();
    let status = 0;
    let bytes = 0;
    const count = (chunk: Chunk): void => {
      bytes += byteLength(chunk);
    };
    const observing: StartResponse = (line, headers, excInfo) => {
      const write = startResponse(line, headers, excInfo);
      status = Number(line.slice(0, 3));
      const counted: WriteFn = (chunk) => {
        count(chunk);
        return write(chunk);
      };
      return counted;
    };
    const done = (): void => {
      const record = accessRecord(environ, status, bytes, performance.now() - began);
      const log = options.log ?? environ['sluice.log'];
      log.info({ access: record }, format === 'json' ? 'request' : logLine(record, format));
    };
    try {
      return observeBody(await app(environ, observing), count, done);
    } catch (error) {
      status = 500;
      done();
      throw error;
    }
  };
}

function accessRecord(environ: Environ, status: number, bytes: number, durationMs: number): AccessRecord {
  return {
    remote: typeof environ.REMOTE_ADDR === 'string' && environ.REMOTE_ADDR !== '' ? environ.REMOTE_ADDR : '-',
    user: stringOrUndefined(environ.REMOTE_USER),
    method: environ.REQUEST_METHOD,
    uri: environ.REQUEST_URI ?? environ.SCRIPT_NAME + environ.PATH_INFO,
    protocol: environ.SERVER_PROTOCOL,
    status,
    bytes,
    durationMs: Math.round(durationMs * 1000) / 1000,
    referer: stringOrUndefined(environ.HTTP_REFERER),
    userAgent: stringOrUndefined(environ.HTTP_USER_AGENT),
  };
}

/**
 * `host ident user [time] "request" status bytes` (Common), plus `"referer" "agent"` (Combined), as
 * Apache's LogFormat "%h %l %u %t \"%r\" %>s %b" writes them; `-` for what is unknown or zero bytes.
 */
export function logLine(record: AccessRecord, format: 'common' | 'combined', now = new Date()): string {
  const request = `${record.method} ${record.uri} ${record.protocol}`;
  const common =
    `${record.remote} - ${record.user ?? '-'} [${clfTime(now)}] "${quote(request)}" ` +
    `${record.status} ${record.bytes === 0 ? '-' : record.bytes}`;
  if (format === 'common') return common;
  return `${common} "${quote(record.referer ?? '-')}" "${quote(record.userAgent ?? '-')}"`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `10/Oct/2000:13:55:36 +0000`, in the daemon's local time zone as Apache writes it. */
function clfTime(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const zone = sign + pad(Math.floor(Math.abs(offset) / 60)) + pad(Math.abs(offset) % 60);
  return (
    `${pad(date.getDate())}/${MONTHS[date.getMonth()]}/${date.getFullYear()}:` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ${zone}`
  );
}

/** Apache escapes `"` and `\` and control bytes inside quoted fields, so a line cannot be forged. */
function quote(text: string): string {
  // eslint-disable-next-line no-control-regex -- control bytes are exactly what must be escaped
  return text.replace(/["\\\x00-\x1f\x7f-\xff]/g, (c) =>
    c === '"' || c === '\\' ? '\\' + c : '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'),
  );
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
