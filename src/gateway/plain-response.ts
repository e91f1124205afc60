// Short plain-text responses the daemon answers itself (400, 413, 500, …), never with a stack trace.
import { STATUS_CODES } from 'node:http';
import { validateHead, type ResponseHead } from './response-head';

export interface PlainResponse {
  readonly head: ResponseHead;
  readonly body: Buffer;
}

const cache = new Map<number, PlainResponse>();

/** `Status: <code> <reason>` with the reason as the body; built once per code. */
export function plainResponse(code: number): PlainResponse {
  let response = cache.get(code);
  if (response === undefined) {
    const reason = STATUS_CODES[code] ?? 'Error';
    const body = Buffer.from(reason + '\n');
    const head = validateHead(`${code} ${reason}`, [
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Content-Length', String(body.length)],
    ]);
    response = { head, body };
    cache.set(code, response);
  }
  return response;
}
