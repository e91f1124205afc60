// The app every sluice target of the benchmarks serves (bench/lib/routes.mjs), written against the
// public gateway interface only, as a user's app would be: the full environ is built for each request.
//
//   /            14-byte "Hello, world!\n", text/plain
//   /1m          1 MiB from a preallocated buffer, with Content-Length
//   /echo        the request body sent back once it has all arrived (see readBody for why not sooner)
//   /upload      reads the whole body, answers its byte count
//   /down?bytes=N  N bytes in 64 KiB chunks from a generator: the memory benchmark's download; with
//                &fresh=1 each chunk a newly allocated buffer (as an app reading a file or building
//                data makes them), not one shared buffer
import { CHUNK_BYTES, HELLO, MIB } from '../lib/routes.mjs';

const HELLO_BYTES = Buffer.from(HELLO);
const ONE_MIB = Buffer.alloc(MIB, 'x');
const CHUNK = Buffer.alloc(CHUNK_BYTES, 'x');
const TEXT = ['Content-Type', 'text/plain'];
const BINARY = ['Content-Type', 'application/octet-stream'];

export default function benchApp(environ, startResponse) {
  switch (environ.PATH_INFO) {
    case '/':
      startResponse('200 OK', [TEXT, ['Content-Length', String(HELLO_BYTES.length)]]);
      return [HELLO_BYTES];
    case '/1m':
      startResponse('200 OK', [BINARY, ['Content-Length', String(MIB)]]);
      return [ONE_MIB];
    case '/echo':
      return echo(environ, startResponse);
    case '/upload':
      return countBody(environ, startResponse);
    case '/down':
      return download(environ, startResponse);
    default:
      startResponse('404 Not Found', [TEXT]);
      return ['not found\n'];
  }
}

// The whole body before the first byte of the answer: nginx stops sending the request body once the
// response head has arrived, so an echo that answered while the body still streamed in would wait
// for the rest of it forever as soon as the body outgrew the socket buffers.
async function readBody(environ) {
  const chunks = [];
  for await (const chunk of environ['sluice.input']) chunks.push(chunk);
  return chunks;
}

async function echo(environ, startResponse) {
  const chunks = await readBody(environ);
  startResponse('200 OK', [BINARY]); // sluice adds the Content-Length of a body returned whole
  return chunks;
}

async function countBody(environ, startResponse) {
  let bytes = 0;
  for await (const chunk of environ['sluice.input']) bytes += chunk.length;
  const body = `${bytes}\n`;
  startResponse('200 OK', [TEXT, ['Content-Length', String(body.length)]]);
  return [body];
}

function download(environ, startResponse) {
  const query = new URLSearchParams(environ.QUERY_STRING);
  const bytes = Number(query.get('bytes') ?? MIB);
  if (!Number.isSafeInteger(bytes) || bytes < 0) {
    startResponse('400 Bad Request', [TEXT]);
    return ['bytes must be a non-negative integer\n'];
  }
  startResponse('200 OK', [BINARY, ['Content-Length', String(bytes)]]);
  return query.get('fresh') === '1' ? freshChunks(bytes) : chunks(bytes);
}

// A generator, not one big buffer: the body is produced as the socket takes it, so memory stays flat.
function* chunks(bytes) {
  for (let left = bytes; left > 0; left -= CHUNK_BYTES)
    yield left >= CHUNK_BYTES ? CHUNK : CHUNK.subarray(0, left);
}

function* freshChunks(bytes) {
  for (let left = bytes; left > 0; left -= CHUNK_BYTES)
    yield Buffer.from(left >= CHUNK_BYTES ? CHUNK : CHUNK.subarray(0, left));
}
