// Peer for the e2e benchmark: Node's own http server with the benchmark routes, so that
// nginx → proxy_pass → node:http can be compared with nginx → sluice.
//
//   node bench/peers/node-http.mjs unix:/tmp/x/node-http.sock   (or 127.0.0.1:PORT)
//   node bench/peers/node-http.mjs unix:/tmp/x/node-http.sock bench/apps/express-hello.mjs
//
// With a module, its default export (an Express, Koa or Fastify app, any `(req, res)` listener) answers instead of
// the benchmark routes, so the same app is measured on node:http and behind sluice (e2e --app).
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { listenFromArgv } from './listen.mjs';
import { handleRoute } from './node-routes.mjs';

const app = process.argv[3];
const exported = app ? (await import(pathToFileURL(path.resolve(app)).href)).default : handleRoute;
const listener = await asListener(exported);
const server = http.createServer(listener);
// nginx keeps idle upstream connections for keepalive_timeout (60 s): outlive it, so nginx never
// reuses a connection that node has just closed.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
listenFromArgv(server, 'http', 'node bench/peers/node-http.mjs');

/** A Koa app answers through callback(), a Fastify instance through routing once ready, as sluice runs them. */
async function asListener(value) {
  if (typeof value?.callback === 'function') return value.callback();
  if (typeof value?.routing === 'function' && typeof value.ready === 'function') {
    await value.ready();
    return (req, res) => value.routing(req, res);
  }
  return value;
}
