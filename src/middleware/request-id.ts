// Request ids: one per request, in the environ, the response header and every log line of the request.
import { randomUUID } from 'node:crypto';
import type { Middleware } from '../gateway/types';

/** The environ key requestId() fills. */
export const REQUEST_ID = 'sluice.request_id';

export interface RequestIdOptions {
  /** Response header carrying the id, and the request header read when `trustIncoming` (default X-Request-Id). */
  readonly header?: string;
  /**
   * Keep an id the front end sends (nginx: `fastcgi_param HTTP_X_REQUEST_ID $request_id;`). Only when
   * the front end sets or strips that header itself: a client could otherwise choose ids.
   */
  readonly trustIncoming?: boolean;
  /** Makes a new id (default crypto.randomUUID). */
  readonly generate?: () => string;
}

// What an incoming id may look like: short, and harmless in a header and a log line.
const SAFE_ID = /^[\w.:@/+=-]{1,128}$/;

/**
 * Gives every request an id: `environ['sluice.request_id']`, a response header, and a `requestId`
 * field on every line the request's logger (`sluice.log`, replaced by a child) writes.
 */
export function requestId(options: RequestIdOptions = {}): Middleware {
  const header = options.header ?? 'X-Request-Id';
  const variable = 'HTTP_' + header.toUpperCase().replace(/-/g, '_');
  const generate = options.generate ?? randomUUID;
  return (app) => (environ, startResponse) => {
    const incoming = options.trustIncoming ? environ[variable] : undefined;
    const id = typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : generate();
    environ[REQUEST_ID] = id;
    environ['sluice.log'] = environ['sluice.log'].child({ requestId: id });
    return app(environ, (status, headers, excInfo) =>
      startResponse(status, [...headers, [header, id]], excInfo),
    );
  };
}
