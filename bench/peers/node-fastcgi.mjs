// Peer for the e2e benchmark: the node-fastcgi package (npm), a FastCGI server with node:http's
// (req, res) interface, serving the same handler as the node:http peer.
//
//   node bench/peers/node-fastcgi.mjs unix:/tmp/x/node-fastcgi.sock
import fcgi from 'node-fastcgi';
import { listenFromArgv } from './listen.mjs';
import { handleRoute } from './node-routes.mjs';

listenFromArgv(fcgi.createServer(handleRoute), 'fastcgi', 'node bench/peers/node-fastcgi.mjs');
