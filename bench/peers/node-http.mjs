// Peer for the e2e benchmark: Node's own http server with the benchmark routes, so that
// nginx → proxy_pass → node:http can be compared with nginx → sluice.
//
//   node bench/peers/node-http.mjs unix:/tmp/x/node-http.sock   (or 127.0.0.1:PORT)
import http from 'node:http';
import { listenFromArgv } from './listen.mjs';
import { handleRoute } from './node-routes.mjs';

const server = http.createServer(handleRoute);
// nginx keeps idle upstream connections for keepalive_timeout (60 s): outlive it, so nginx never
// reuses a connection that node has just closed.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
listenFromArgv(server, 'http', 'node bench/peers/node-http.mjs');
