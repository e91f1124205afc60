// Error catcher: turns an app's failure into a 500 page while the head is still unsent (PEP 3333 exc_info).
import { plainResponse } from '../gateway/plain-response';
import type {
  AppResult,
  Body,
  Chunk,
  Environ,
  HeaderList,
  Middleware,
  StartResponse,
} from '../gateway/types';
import { closeBody, isWhole } from './body';

export interface CatchErrorsOptions {
  /**
   * Answer with a page showing the error, its stack and the CGI variables, instead of a plain
   * "Internal Server Error". For development only: the page tells a client how the app is built.
   * `sluice serve --debug` wraps every app with this on.
   */
  readonly debug?: boolean;
}

/**
 * Catches what the app throws, while it runs and while its body is iterated, logs it, and answers
 * with a 500 by calling startResponse again with the error as excInfo: that replaces the status
 * while the head is unsent, and rethrows the error once it went out, so the response is then cut
 * short rather than completed with an error page in the middle of a body.
 */
export function catchErrors(options: CatchErrorsOptions = {}): Middleware {
  const debug = options.debug === true;
  return (app) => async (environ, startResponse) => {
    let body: Body;
    try {
      body = await app(environ, startResponse);
    } catch (error) {
      return errorPage(environ, startResponse, error, debug);
    }
    if (isWhole(body)) return body;
    return guarded(body, environ, startResponse, debug);
  };
}

async function* guarded(
  body: Body,
  environ: Environ,
  startResponse: StartResponse,
  debug: boolean,
): AsyncGenerator<Chunk> {
  try {
    yield* body as Iterable<Chunk> | AsyncIterable<Chunk>;
  } catch (error) {
    yield* errorPage(environ, startResponse, error, debug) as Chunk[];
  } finally {
    await closeBody(body);
  }
}

function errorPage(
  environ: Environ,
  startResponse: StartResponse,
  error: unknown,
  debug: boolean,
): AppResult {
  environ['sluice.log'].error({ err: error }, 'app failed; answered 500');
  if (!debug) {
    const { head, body } = plainResponse(500);
    startResponse(head.status, head.headers, error);
    return [body];
  }
  const page = Buffer.from(debugPage(environ, error));
  const headers: HeaderList = [
    ['Content-Type', 'text/html; charset=utf-8'],
    ['Cache-Control', 'no-store'],
  ];
  startResponse('500 Internal Server Error', headers, error);
  return [page];
}

function debugPage(environ: Environ, error: unknown): string {
  const err = error instanceof Error ? error : new Error(String(error));
  const variables = Object.entries(environ)
    .filter(([, value]) => typeof value === 'string')
    .map(([name, value]) => `<tr><th>${escape(name)}</th><td>${escape(value as string)}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>500 ${escape(err.name)}</title></head>
<body>
<h1>${escape(err.name)}: ${escape(err.message)}</h1>
<p>${escape(environ.REQUEST_METHOD)} ${escape(String(environ.REQUEST_URI ?? ''))} (shown because sluice runs with --debug)</p>
<pre>${escape(err.stack ?? '')}</pre>
<h2>CGI variables</h2>
<table>
${variables}
</table>
</body></html>
`;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
