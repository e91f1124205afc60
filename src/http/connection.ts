// The development listener: the same app over plain HTTP, with the environ a front end would build.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { VERSION } from '../common/version';
import { ProtocolError } from '../errors';
import { withContentLength, type ResponseHead } from '../gateway/response-head';
import type { ServeContext, TrackedConnection } from '../runtime/context';
import { ServerRequest, type RequestTransport } from '../runtime/request';

/**
 * Serves one HTTP request through the app, like wsgiref's simple_server: for development only.
 * Node parses the request (its headersTimeout and maxHeaderSize are the daemon's --header-timeout and
 * --max-header-bytes); everything after the head goes through the same request core as SCGI and
 * FastCGI. The returned exchange is tracked by the daemon for --request-timeout and its stop.
 */
export function serveHttp(
  req: IncomingMessage,
  res: ServerResponse,
  context: ServeContext,
  onClose: () => void,
): TrackedConnection {
  const exchange = new HttpExchange(req, res, context, onClose);
  exchange.request.start(httpVariables(req));
  return exchange;
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

/** The HTTP transport: the request's body from Node's IncomingMessage, its response onto ServerResponse. */
class HttpExchange implements RequestTransport, TrackedConnection {
  readonly protocol = 'http';
  /** One request per exchange: a slow reader pauses Node's stream. */
  readonly sharedInput = false;
  readonly request: ServerRequest;
  private requestLog: Logger | null = null;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly context: ServeContext,
    onClose: () => void,
  ) {
    this.request = new ServerRequest(this, context);
    req.on('data', (chunk: Buffer) => this.request.body(chunk));
    req.on('end', () => this.request.bodyEnd());
    req.on('error', () => undefined);
    res.on('close', () => {
      if (!res.writableFinished) {
        this.request.abandon(new ProtocolError('ERR_CONNECTION_CLOSED', 'the client closed the connection'));
      }
      onClose();
    });
  }

  get log(): Logger {
    return (this.requestLog ??= this.context.log.child({
      protocol: 'http',
      req: this.request.requestId,
    }));
  }

  pauseInput(paused: boolean): void {
    if (paused) this.req.pause();
    else this.req.resume();
  }

  errorText(text: Buffer): void {
    this.log.error({ appErrors: text.toString() }, 'app wrote to sluice.errors');
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

  // --- TrackedConnection -----------------------------------------------------------------------

  expire(now: number): void {
    this.request.expire(now);
  }

  /** Node's server closes its idle keep-alive connections itself; a request in flight is let finish. */
  shutdown(): void {}

  destroy(): void {
    this.res.destroy();
  }

  retire(): void {}
}
