// The development listener: the same app over plain HTTP, with the environ a front end would build.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ProtocolError } from '../errors';
import { Cancellation } from '../gateway/cancellation';
import type { ServeContext } from '../runtime/context';
import { runApp } from '../gateway/driver';
import { buildCgiVariables, createEnviron } from '../gateway/environ';
import { errorsStream } from '../gateway/errors-stream';
import { plainResponse } from '../gateway/plain-response';
import { withContentLength, type ResponseHead } from '../gateway/response-head';
import type { ResponseTransport } from '../gateway/transport';
import { VERSION } from '../common/version';

let nextRequestId = 0;

/** Serves one HTTP request through the app, like wsgiref's simple_server: for development only. */
export function serveHttp(req: IncomingMessage, res: ServerResponse, context: ServeContext): void {
  const log = context.log.child({ protocol: 'http', req: ++nextRequestId });
  let vars;
  try {
    vars = buildCgiVariables(httpVariables(req), context.environ);
  } catch (error) {
    const { head, body } = plainResponse((error as ProtocolError).status ?? 400);
    log.warn({ code: (error as ProtocolError).code }, (error as Error).message);
    res.writeHead(head.code, flatHeaders(head)).end(body);
    return;
  }
  const transport = new HttpTransport(req, res, log);
  const environ = createEnviron(vars, {
    input: req,
    errors: errorsStream((text) => log.error({ appErrors: text.toString() }, 'app wrote to sluice.errors')),
    get signal() {
      return transport.cancellation.signal;
    },
    cancellation: transport.cancellation,
    protocol: 'http',
    log,
    multiprocess: context.multiprocess,
  });
  void runApp(context.app, environ, transport);
}

/** The CGI variables (RFC 3875 §4.1) a front end would send for this request. */
function httpVariables(req: IncomingMessage): string[] {
  const socket = req.socket as Socket;
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  const hostHeader = req.headers.host ?? '';
  const list = [
    'REQUEST_METHOD', req.method ?? 'GET',
    'REQUEST_URI', url,
    'QUERY_STRING', query === -1 ? '' : url.slice(query + 1),
    'SERVER_PROTOCOL', 'HTTP/' + req.httpVersion,
    'SERVER_SOFTWARE', 'sluice/' + VERSION,
    'GATEWAY_INTERFACE', 'CGI/1.1',
    'SERVER_NAME', hostHeader.replace(/:\d+$/, '') || (socket.localAddress ?? ''),
    'SERVER_PORT', String(socket.localPort ?? ''),
    'REMOTE_ADDR', socket.remoteAddress ?? '',
    'REMOTE_PORT', String(socket.remotePort ?? ''),
  ]; // prettier-ignore
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toUpperCase().replace(/-/g, '_');
    if (name === 'CONTENT_TYPE' || name === 'CONTENT_LENGTH') list.push(name, raw[i + 1]);
    // httpoxy: a client's Proxy header must never become HTTP_PROXY, which CGI code reads as a setting.
    else if (name !== 'PROXY') list.push('HTTP_' + name, raw[i + 1]);
  }
  return list;
}

function flatHeaders(head: ResponseHead): string[] {
  const flat = head.headers.flat();
  if (head.contentLength !== undefined) flat.push('Content-Length', String(head.contentLength));
  return flat;
}

/** Maps the gateway's response onto Node's ServerResponse. */
class HttpTransport implements ResponseTransport {
  readonly cancellation = new Cancellation();

  constructor(
    req: IncomingMessage,
    private readonly res: ServerResponse,
    readonly log: Logger,
  ) {
    res.on('close', () => {
      if (!res.writableFinished) this.cancellation.abort();
    });
    req.on('error', () => undefined);
  }

  sendHead(response: ResponseHead, first: Buffer | null, bodyLength?: number): Promise<void> | undefined {
    const head = withContentLength(response, bodyLength);
    this.res.writeHead(head.code, head.status.slice(4), flatHeaders(head));
    return first === null ? undefined : this.sendBody(first);
  }

  sendBody(chunk: Buffer): Promise<void> | undefined {
    if (this.res.write(chunk)) return undefined;
    return new Promise((resolve) => {
      const done = (): void => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  end(): void {
    this.res.end();
  }

  abort(): void {
    this.res.destroy();
  }
}
