// Peer for bench/e2e.mjs: Node's own http server answering every request with the same 14-byte body
// as examples/hello.mjs, so nginx → proxy_pass → node:http can be compared with nginx → sluice.
//
//   node bench/peers/node-http.mjs unix:/tmp/x/node-http.sock   (or 127.0.0.1:PORT)
//   node bench/peers/node-http.mjs unix:/tmp/x/node-http.sock bench/apps/express-hello.mjs
//
// With a module, its default export (an Express app, any `(req, res)` listener) answers instead, so
// the same app can be measured on node:http and behind sluice.
// Logs {"msg":"listening","address":…} and {"msg":"ready"} to stderr like sluice, and exits on
// SIGTERM/SIGINT after closing the server.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const spec = process.argv[2];
if (!spec) {
  process.stderr.write('usage: node bench/peers/node-http.mjs unix:/path.sock | 127.0.0.1:PORT\n');
  process.exit(2);
}

const BODY = Buffer.from('Hello, world!\n');

const listener = process.argv[3]
  ? (await import(pathToFileURL(path.resolve(process.argv[3])).href)).default
  : (_req, res) => {
      // Same head as the sluice app sets (plus what node:http adds by itself: Date, Connection, Keep-Alive).
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': BODY.length });
      res.end(BODY);
    };
const server = http.createServer(listener);
// nginx keeps idle upstream connections for keepalive_timeout (60 s): outlive it, so nginx never
// reuses a connection that node has just closed.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

const log = (fields) => process.stderr.write(JSON.stringify({ time: Date.now(), ...fields }) + '\n');

if (spec.startsWith('unix:') || spec.startsWith('/')) {
  const socketPath = spec.startsWith('unix:') ? spec.slice(5) : spec;
  fs.rmSync(socketPath, { force: true });
  server.listen(socketPath, () => {
    fs.chmodSync(socketPath, 0o666); // nginx workers may run as another user (www-data)
    log({ msg: 'listening', protocol: 'http', address: `unix:${socketPath}` });
    log({ msg: 'ready', pid: process.pid, node: process.version });
  });
} else {
  const match = /^(.*):(\d+)$/.exec(spec);
  if (!match) {
    process.stderr.write(`bad address ${JSON.stringify(spec)}\n`);
    process.exit(2);
  }
  server.listen(Number(match[2]), match[1] || '127.0.0.1', () => {
    const address = server.address();
    log({ msg: 'listening', protocol: 'http', address: `${address.address}:${address.port}` });
    log({ msg: 'ready', pid: process.pid, node: process.version });
  });
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
