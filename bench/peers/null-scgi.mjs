// The SCGI ceiling of the e2e benchmark: answers every connection with canned bytes as soon as the
// request starts to arrive, parsing nothing (no netstring, no headers, no environ, no app). SCGI is
// one request per connection, so this measures nginx's connect + write + read + close per request.
//
//   node bench/peers/null-scgi.mjs unix:/tmp/x/null-scgi.sock
import net from 'node:net';
import { HELLO } from '../lib/routes.mjs';
import { listenFromArgv } from './listen.mjs';

const CANNED = Buffer.from(
  `Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${HELLO.length}\r\n\r\n${HELLO}`,
);

function serve(socket) {
  // Answer on the first bytes, then keep reading (and dropping) until nginx closes: closing with
  // request bytes unread could cut nginx's write short.
  socket.once('data', () => socket.end(CANNED));
  socket.on('data', () => undefined);
  socket.on('error', () => socket.destroy());
}

listenFromArgv(net.createServer(serve), 'scgi', 'node bench/peers/null-scgi.mjs');
