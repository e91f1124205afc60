// The FastCGI ceiling of the e2e benchmark: answers every request with canned bytes, parsing nothing
// but record headers (no params, no environ, no app). No FastCGI server behind the same nginx can be
// faster, so sluice's req/s divided by this one's is the share of the reachable maximum it gets.
//
//   node bench/peers/null-fastcgi.mjs unix:/tmp/x/null-fastcgi.sock
//
// It honours FCGI_KEEP_CONN (the connection stays open for the next request) and answers at the
// empty STDIN record that ends a request (FastCGI spec §6.2); request ids are echoed back.
import net from 'node:net';
import { HELLO } from '../lib/routes.mjs';
import { listenFromArgv } from './listen.mjs';

const HEADER_BYTES = 8;
const FCGI_BEGIN_REQUEST = 1;
const FCGI_STDIN = 5;
const FCGI_KEEP_CONN = 1;

function record(type, content) {
  const padding = -content.length & 7;
  const header = Buffer.from([1, type, 0, 1, content.length >> 8, content.length & 0xff, padding, 0]);
  return Buffer.concat([header, content, Buffer.alloc(padding)]);
}

// STDOUT with the whole response, the empty STDOUT, END_REQUEST (appStatus 0, REQUEST_COMPLETE); id 1.
const CANNED = Buffer.concat([
  record(
    6,
    Buffer.from(
      `Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${HELLO.length}\r\n\r\n${HELLO}`,
    ),
  ),
  record(6, Buffer.alloc(0)),
  record(3, Buffer.alloc(8)),
]);
const RECORD_STARTS = [0, CANNED.length - 32, CANNED.length - 16];

function cannedFor(id) {
  if (id === 1) return CANNED; // nginx always uses id 1
  const copy = Buffer.from(CANNED);
  for (const at of RECORD_STARTS) copy.writeUInt16BE(id, at + 2);
  return copy;
}

function serve(socket) {
  const header = Buffer.alloc(HEADER_BYTES);
  let have = 0; // bytes of the current header collected so far
  let type = 0;
  let passed = 0; // content + padding bytes of the current record passed over so far
  let skip = 0; // content + padding bytes of the current record still to pass over
  let keepConn = false;
  socket.on('data', (chunk) => {
    let at = 0;
    while (at < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - at);
        // BEGIN_REQUEST's flags are its third content byte: the only content byte ever looked at.
        if (type === FCGI_BEGIN_REQUEST && passed <= 2 && passed + n > 2) {
          keepConn = (chunk[at + 2 - passed] & FCGI_KEEP_CONN) !== 0;
        }
        at += n;
        passed += n;
        skip -= n;
        continue;
      }
      const n = Math.min(HEADER_BYTES - have, chunk.length - at);
      chunk.copy(header, have, at, at + n);
      have += n;
      at += n;
      if (have < HEADER_BYTES) break;
      have = 0;
      type = header[1];
      passed = 0;
      const contentLength = header.readUInt16BE(4);
      skip = contentLength + header[6];
      if (type === FCGI_STDIN && contentLength === 0) {
        const response = cannedFor(header.readUInt16BE(2));
        if (keepConn) socket.write(response);
        else socket.end(response);
      }
    }
  });
  socket.on('error', () => socket.destroy());
}

listenFromArgv(net.createServer(serve), 'fastcgi', 'node bench/peers/null-fastcgi.mjs');
