// The benchmark routes as a Node `(req, res)` handler: the same answers as bench/apps/gateway.mjs, for
// the node:http peer and the node-fastcgi peer (a drop-in for node:http's server).
import { CHUNK_BYTES, HELLO, MIB } from '../lib/routes.mjs';

const HELLO_BYTES = Buffer.from(HELLO);
const ONE_MIB = Buffer.alloc(MIB, 'x');
const CHUNK = Buffer.alloc(CHUNK_BYTES, 'x');
const TEXT = 'text/plain';
const BINARY = 'application/octet-stream';

export function handleRoute(req, res) {
  const query = req.url.indexOf('?');
  const pathname = query < 0 ? req.url : req.url.slice(0, query);
  switch (pathname) {
    case '/':
      res.writeHead(200, { 'Content-Type': TEXT, 'Content-Length': HELLO_BYTES.length });
      res.end(HELLO_BYTES);
      return;
    case '/1m':
      res.writeHead(200, { 'Content-Type': BINARY, 'Content-Length': MIB });
      res.end(ONE_MIB);
      return;
    case '/echo': {
      // The whole body first, as bench/apps/gateway.mjs does (nginx stops sending it after the head).
      const chunks = [];
      req.on('data', (chunk) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        res.writeHead(200, { 'Content-Type': BINARY, 'Content-Length': body.length });
        res.end(body);
      });
      return;
    }
    case '/upload': {
      let bytes = 0;
      req.on('data', (chunk) => (bytes += chunk.length));
      req.on('end', () => {
        const body = `${bytes}\n`;
        res.writeHead(200, { 'Content-Type': TEXT, 'Content-Length': body.length });
        res.end(body);
      });
      return;
    }
    case '/down': {
      const params = new URLSearchParams(req.url.slice(query + 1));
      const bytes = Number(params.get('bytes') ?? MIB);
      const fresh = params.get('fresh') === '1'; // a new buffer per chunk, as bench/apps/gateway.mjs
      res.writeHead(200, { 'Content-Type': BINARY, 'Content-Length': bytes });
      let left = bytes;
      const more = () => {
        while (left > 0) {
          const shared = left >= CHUNK_BYTES ? CHUNK : CHUNK.subarray(0, left);
          const chunk = fresh ? Buffer.from(shared) : shared;
          left -= chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
      return;
    }
    default:
      res.writeHead(404, { 'Content-Type': TEXT });
      res.end('not found\n');
  }
}
