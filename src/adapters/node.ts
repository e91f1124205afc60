// The Node adapter: runs a request listener `(req, res)` (Express, Koa, Fastify, plain node:http code)
// as a gateway app, with Node's own IncomingMessage and ServerResponse.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { ProtocolError } from '../errors';
import { onRequestAbort } from '../gateway/environ';
import type { App, Environ } from '../gateway/types';
import { GatewaySocket } from './gateway-socket';
import { answerPlain, isUpgrade, refuseUpgrade } from './refusals';
import { requestHead, type RequestHead } from './request-head';
import { setMountedUrls } from './target';

/** A Node request listener, as `http.createServer` takes it. */
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => unknown;

/** The request a listener receives: Node's IncomingMessage plus the CGI environ the front end sent. */
export interface GatewayIncomingMessage extends IncomingMessage {
  readonly environ: Environ;
}

// The front end and the params limits bound the head already; Node's 16 KiB default would refuse
// what nginx accepted.
const MAX_HEAD_BYTES = 16 * 1024 * 1024;

/**
 * Idle sockets kept per adapted listener: enough for the requests a front end keeps in flight at
 * once (nginx: one per upstream connection); past it, finished sockets are destroyed.
 */
const MAX_IDLE_SOCKETS = 64;

/**
 * Wraps `listener` into a gateway app. Requests travel over {@link GatewaySocket}s that a private,
 * never-listening http.Server takes as connections (the documented way to inject one), so Node
 * itself parses the request and serializes the response: every IncomingMessage and ServerResponse
 * behaviour is Node's, and nothing of it depends on prototypes a framework may swap.
 *
 * A socket whose exchange completed cleanly waits in an idle pool and carries the next request, as
 * a kept-alive connection from a front end to a node:http server does: Node then keeps its parser
 * and listeners instead of setting a connection up and tearing it down for every request.
 */
export function nodeApp(listener: NodeListener): App {
  const server = http.createServer({ requireHostHeader: false, maxHeaderSize: MAX_HEAD_BYTES });
  // A socket waits in the pool without a timer: no keep-alive timeout to arm after each response.
  server.keepAliveTimeout = 0;
  const idle: GatewaySocket[] = [];

  /** After a response finished: back to the pool if Node can take another request on it. */
  const recycle = (socket: GatewaySocket, req: IncomingMessage): void => {
    if (idle.length < MAX_IDLE_SOCKETS && socket.reusable(req)) {
      socket.release();
      idle.push(socket);
    } else socket.destroy();
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket as unknown as GatewaySocket;
    const environ = socket.environ!;
    // An own property: Express replaces the prototype of req, never its own properties.
    (req as { environ?: Environ }).environ = environ;
    setMountedUrls(req as { baseUrl?: string }, environ);
    setHttpVersion(req, environ.SERVER_PROTOCOL);
    // Only once the write that finished the response has fully returned (destroying a stream from
    // inside its own write callback makes it build an error for the callbacks left), and after
    // Node's own 'finish' handler has detached the response from the socket.
    res.once('finish', () => process.nextTick(recycle, socket, req));
    try {
      const result = listener(req, res);
      // node:http ignores what a listener returns; a rejected promise would crash the process.
      if (typeof (result as Promise<unknown>)?.then === 'function') {
        (result as Promise<unknown>).then(undefined, (error: unknown) => socket.fail(error));
      }
    } catch (error) {
      socket.fail(error);
    }
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: GatewaySocket) => {
    socket.environ?.['sluice.log'].warn(
      { code: error.code },
      `request refused by Node's parser: ${error.message}`,
    );
    socket.answer(error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400);
  });

  return (environ, startResponse) => {
    if (isUpgrade(environ)) return refuseUpgrade(environ, startResponse);
    let head: RequestHead;
    try {
      head = requestHead(environ);
    } catch (error) {
      if (!(error instanceof ProtocolError) || error.status === undefined) throw error;
      environ['sluice.log'].warn({ code: error.code }, error.message);
      return answerPlain(startResponse, error.status);
    }
    let socket = idle.pop();
    if (socket === undefined) {
      socket = new GatewaySocket();
      socket.begin(environ, startResponse, head);
      socket.sendHead(head);
      server.emit('connection', socket);
    } else {
      socket.begin(environ, startResponse, head);
      // On a fresh socket Node's server reads the head on the next tick; the same here, rather than
      // running the listener inside this call.
      process.nextTick(sendHead, socket, head);
    }
    const serving = socket;
    onRequestAbort(environ, () => {
      // The socket may carry another request by the time an old one is aborted.
      if (serving.environ === environ) serving.abort();
    });
    return socket.result();
  };
}

/** Node's parser only reads HTTP/1.x; the request carries what the client really spoke (HTTP/2.0, …). */
function setHttpVersion(req: IncomingMessage, protocol: string): void {
  // The common case, without a regex: what Node parsed is what the client spoke.
  if (protocol.length === 8 && protocol.endsWith(req.httpVersion) && protocol.startsWith('HTTP/')) return;
  const version = /^HTTP\/(\d)\.(\d)$/.exec(protocol);
  if (version === null || protocol === 'HTTP/' + req.httpVersion) return;
  req.httpVersion = `${version[1]}.${version[2]}`;
  req.httpVersionMajor = Number(version[1]);
  req.httpVersionMinor = Number(version[2]);
}

function sendHead(socket: GatewaySocket, head: RequestHead): void {
  socket.sendHead(head);
}
