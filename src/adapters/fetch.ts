// The fetch adapter: runs a WHATWG handler `fetch(request, env, ctx)` (Hono and the like) as a gateway app.
import { STATUS_CODES } from 'node:http';
import { Readable } from 'node:stream';
import { LiveSet } from '../common/live-set';
import { GatewayError, ProtocolError } from '../errors';
import { declaredLength, type CgiVariables } from '../gateway/environ';
import { bodyAllowed } from '../gateway/response-head';
import type { App, Environ } from '../gateway/types';
import { NO_BODY } from '../gateway/no-body';
import { answerPlain, isUpgrade, refuseUpgrade } from './refusals';
import { appTarget } from './target';
import { forEachHeader } from './request-headers';

/** The third argument of a fetch handler, shaped like the ExecutionContext of other runtimes. */
export interface FetchContext {
  /** Keeps the daemon from dropping work that outlives the response; failures are logged. */
  waitUntil(promise: Promise<unknown>): void;
  /** Nothing to pass through to behind a CGI front end: accepted and ignored. */
  passThroughOnException(): void;
}

/** `fetch(request, environ, context)`: the environ is the handler's env (Hono's `c.env`). */
export type FetchHandler = (request: Request, environ: Environ, context: FetchContext) => unknown;

/**
 * Wraps `handler` into a gateway app: a Request built from the environ, its body streamed from
 * `sluice.input` and its signal aborted when the front end goes away; the Response's status,
 * headers (each Set-Cookie kept apart) and body stream go back through startResponse.
 */
export function fetchApp(handler: FetchHandler): App {
  return async (environ, startResponse) => {
    if (isUpgrade(environ)) return refuseUpgrade(environ, startResponse);
    let request: Request;
    try {
      request = toRequest(environ);
    } catch (error) {
      environ['sluice.log'].warn({ code: (error as ProtocolError).code }, (error as Error).message);
      return answerPlain(startResponse, 400);
    }
    const response = await handler(request, environ, context(environ));
    if (!(response instanceof Response)) {
      throw new GatewayError('ERR_ADAPTER_NOT_A_RESPONSE', 'the fetch handler did not return a Response');
    }
    if (response.type === 'error') {
      throw new GatewayError(
        'ERR_GATEWAY_BAD_STATUS',
        'the fetch handler returned Response.error() (status 0)',
      );
    }
    const headers: Array<[string, string]> = [];
    for (const header of response.headers) headers.push(header);
    const status = response.status;
    try {
      startResponse(`${status} ${response.statusText || STATUS_CODES[status] || 'Unknown'}`, headers);
    } catch (error) {
      // A head the gateway refuses: the body is never read, and whatever feeds it must stop.
      await response.body?.cancel().catch(() => undefined);
      throw error;
    }
    if (response.body === null) return NO_BODY;
    if (!bodyAllowed(environ.REQUEST_METHOD, status)) {
      await response.body.cancel();
      return NO_BODY;
    }
    return chunks(response.body, request, environ['sluice.signal']);
  };
}

/**
 * The request URL: scheme, then HTTP_HOST or SERVER_NAME:SERVER_PORT, then REQUEST_URI as sent (in an
 * apps map, the path below the app's prefix: see appTarget).
 */
export function requestUrl(environ: Environ): string {
  const uri = appTarget(environ);
  if (/^https?:\/\//i.test(uri)) return uri;
  const scheme = environ['sluice.url_scheme'];
  let host = typeof environ.HTTP_HOST === 'string' && environ.HTTP_HOST !== '' ? environ.HTTP_HOST : '';
  if (host === '') {
    const port = environ.SERVER_PORT ?? '';
    const standard = port === '' || port === (scheme === 'https' ? '443' : '80');
    host = (environ.SERVER_NAME || 'localhost') + (standard ? '' : ':' + port);
  }
  return `${scheme}://${host}${uri.startsWith('/') ? uri : '/' + uri}`;
}

function toRequest(environ: Environ): Request {
  const method = environ.REQUEST_METHOD;
  const headers = new Headers();
  forEachHeader(environ, (name, value) => headers.append(name, value));
  const vars = environ as unknown as CgiVariables;
  const length = declaredLength(vars, 'CONTENT_LENGTH');
  // A body of unknown length streams whatever arrives, with or without Transfer-Encoding (Caddy
  // never sends it). A GET or HEAD Request cannot have a body at all (the Fetch standard).
  const hasBody = method !== 'GET' && method !== 'HEAD' && (length === null || length > 0);
  if (length !== null && hasBody) headers.set('content-length', String(length));
  let url: URL;
  try {
    url = new URL(requestUrl(environ));
  } catch (error) {
    throw new ProtocolError(
      'ERR_ADAPTER_BAD_URL',
      `no valid URL for ${JSON.stringify(environ.REQUEST_URI)}`,
      400,
      {
        cause: error,
      },
    );
  }
  return new Request(url, {
    method,
    headers,
    signal: environ['sluice.signal'],
    body: hasBody ? (Readable.toWeb(environ['sluice.input']) as ReadableStream<Uint8Array>) : null,
    // Required by Node for a streamed request body: the request is sent while the response is read.
    duplex: 'half',
  } as RequestInit);
}

function context(environ: Environ): FetchContext {
  return {
    waitUntil(promise) {
      promise.then(undefined, (error: unknown) =>
        environ['sluice.log'].error({ err: error }, 'a promise passed to waitUntil() failed'),
      );
    },
    passThroughOnException() {},
  };
}

/**
 * The response body as chunks; cut short (client gone), the stream is cancelled. The Request is held
 * until the body is done: its signal follows the front end's through a weak reference only, so a
 * Request collected mid-response would no longer be aborted, and a handler streaming on
 * `request.signal` alone would never hear that the client left.
 */
const held = new LiveSet<Request>();

async function* chunks(
  body: ReadableStream<Uint8Array>,
  request: Request,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const release = held.add(request);
  const reader = body.getReader();
  // A read the stream never answers (an idle event stream) must not outlive the client either.
  const cancel = (): void => void reader.cancel().catch(() => undefined);
  signal.addEventListener('abort', cancel, { once: true });
  let done = false;
  try {
    for (;;) {
      const step = await reader.read();
      if (step.done) {
        done = true;
        return;
      }
      yield step.value;
    }
  } finally {
    signal.removeEventListener('abort', cancel);
    if (!done) await reader.cancel().catch(() => undefined);
    release();
  }
}
