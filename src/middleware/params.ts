// Query and form parsing: the query string and url-encoded bodies as URLSearchParams.
import { ProtocolError } from '../errors';
import type { Environ, Middleware } from '../gateway/types';

/** The environ key parseQuery() fills, after the seeds' QUERY_PARAMS. */
export const QUERY = 'sluice.query';

/** QUERY_STRING parsed (`+` as space, percent-decoded as UTF-8); parsed once per request. */
export function queryParams(environ: Environ): URLSearchParams {
  const cached = environ[QUERY];
  if (cached instanceof URLSearchParams) return cached;
  const params = new URLSearchParams(environ.QUERY_STRING);
  environ[QUERY] = params;
  return params;
}

/** Middleware: `environ['sluice.query']` holds the parsed query string before the app runs. */
export function parseQuery(): Middleware {
  return (app) => (environ, startResponse) => {
    queryParams(environ);
    return app(environ, startResponse);
  };
}

export interface ReadFormOptions {
  /** Largest body read, in bytes (default 1 MiB); more is refused with ERR_FORM_TOO_LARGE (413). */
  readonly limit?: number;
}

/**
 * Reads an `application/x-www-form-urlencoded` body from `sluice.input`. Any other content type
 * gives empty params and leaves the body unread; too large a body is a ProtocolError with status 413.
 */
export async function readForm(environ: Environ, options: ReadFormOptions = {}): Promise<URLSearchParams> {
  const limit = options.limit ?? 1024 * 1024;
  const type = (environ.CONTENT_TYPE ?? '').split(';', 1)[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return new URLSearchParams();
  const declared = Number(environ.CONTENT_LENGTH || 0);
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of environ['sluice.input'] as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function tooLarge(limit: number): ProtocolError {
  return new ProtocolError('ERR_FORM_TOO_LARGE', `form body larger than ${limit} bytes`, 413);
}
