// Peer for the e2e benchmark: Node's own http server with the benchmark routes, so that
// nginx → proxy_pass → node:http can be compared with nginx → sluice.
//
//   node bench/peers/node-http.mjs unix:/tmp/x/node-http.sock   (or 127.0.0.1:PORT)
//   node bench/peers/node-http.mjs unix:/tmp/x/node-http.sock bench/apps/express-hello.mjs
//
// With a module, its default export answers instead of the benchmark routes, so the same app is
// measured on node:http and behind sluice (e2e --app, bench/adapter-cpu.mjs): an Express app or any
// `(req, res)` listener as it is, a Koa app as app.callback(), a Fastify instance as its `routing`
// handler once ready() (what fastify.listen() would put on its own node:http server, and what
// sluice serves).
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { listenFromArgv } from './listen.mjs';
import { handleRoute } from './node-routes.mjs';

/** The `(req, res)` listener of an app module's default export. */
async function listenerOf(exported) {
  if (typeof exported === 'function') return exported; // Express, a plain listener
  if (typeof exported?.callback === 'function') return exported.callback(); // Koa
  if (typeof exported?.routing === 'function' && typeof exported.ready === 'function') {
    await exported.ready(); // Fastify
    return exported.routing;
  }
  throw new Error('the app module exports neither a listener nor a Koa or Fastify app');
}

const app = process.argv[3];
const listener = app
  ? await listenerOf((await import(pathToFileURL(path.resolve(app)).href)).default)
  : handleRoute;
const server = http.createServer(listener);
// nginx keeps idle upstream connections for keepalive_timeout (60 s): outlive it, so nginx never
// reuses a connection that node has just closed.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
listenFromArgv(server, 'http', 'node bench/peers/node-http.mjs');
