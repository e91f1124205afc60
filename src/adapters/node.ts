// The Node adapter: runs a request listener `(req, res)` (Express, Koa, Fastify, plain node:http code)
// as a gateway app, with Node's own IncomingMessage and ServerResponse.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProtocolError } from '../errors';
import { onRequestAbort } from '../gateway/environ';
import type { App, Environ } from '../gateway/types';
import { SocketPool } from './gateway-socket';
import { NodeExchange } from './node-exchange';
import { answerPlain, isUpgrade, refuseUpgrade } from './refusals';
import { requestHead, type RequestHead } from './request-headers';

/** A Node request listener, as `http.createServer` takes it. */
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => unknown;

/** The request a listener receives: Node's IncomingMessage plus the CGI environ the front end sent. */
export interface GatewayIncomingMessage extends IncomingMessage {
  readonly environ: Environ;
}

/**
 * Wraps `listener` into a gateway app. Each request becomes an IncomingMessage built from the
 * environ, as a node:http server behind the front end would have parsed it, and a ServerResponse
 * whose head and body go to startResponse and write() without being serialized as HTTP
 * ({@link NodeExchange}). Both are Node's own classes, so every behaviour of theirs is Node's.
 *
 * The stand-in sockets they carry wait in an idle pool between requests, as a kept-alive
 * connection from a front end to a node:http server does.
 */
export function nodeApp(listener: NodeListener): App {
  const pool = new SocketPool();

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
    const exchange = new NodeExchange(environ, startResponse, head, pool.take(), pool);
    onRequestAbort(environ, () => exchange.abort());
    try {
      const result = listener(exchange.req, exchange.res);
      // node:http ignores what a listener returns; a rejected promise would crash the process.
      if (typeof (result as Promise<unknown>)?.then === 'function') {
        (result as Promise<unknown>).then(undefined, (error: unknown) => exchange.fail(error));
      }
    } catch (error) {
      exchange.fail(error);
    }
    return exchange.result();
  };
}
