// The Node internals the Node adapter relies on, pinned: a Node release that changes one of them
// fails here, by name, rather than in an app. Heads and bodies are compared with what a node:http
// server writes for the same listener.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { nodeApp } from '../../src/adapters/node';
import { runApp } from '../../src/gateway/driver';
import { FakeTransport, makeEnviron, settle } from '../helpers/gateway';

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

// Hop-by-hop headers of the HTTP/1.1 exchange and Date (a clock): not compared.
const SKIPPED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date']);

interface Seen {
  status: string;
  headers: Array<[string, string]>;
  body: string;
}

/** What a node:http server sends for `listener`, as its client reads it. */
async function viaNodeHttp(listener: Listener, method: string): Promise<Seen> {
  const server = http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise<Seen>((resolve, reject) => {
      const req = http.request({ port, method, path: '/', agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const headers: Array<[string, string]> = [];
          for (let i = 0; i < res.rawHeaders.length; i += 2) {
            if (!SKIPPED.has(res.rawHeaders[i].toLowerCase())) {
              headers.push([res.rawHeaders[i], res.rawHeaders[i + 1]]);
            }
          }
          resolve({
            status: `${res.statusCode} ${res.statusMessage}`,
            headers,
            body: Buffer.concat(chunks).toString('latin1'),
          });
        });
      });
      req.on('error', reject);
      req.end();
    });
  } finally {
    server.close();
  }
}

/** What the adapter hands to the gateway for `listener`. */
async function viaAdapter(listener: Listener, method: string): Promise<Seen & { date: boolean }> {
  const transport = new FakeTransport();
  await runApp(nodeApp(listener), makeEnviron({ vars: { REQUEST_METHOD: method } }), transport);
  expect(transport.violations).toEqual([]);
  const head = transport.calls[0];
  if (head?.type !== 'head') throw new Error('no head');
  return {
    status: head.status,
    headers: head.headers.filter(([name]) => !SKIPPED.has(name.toLowerCase())) as Array<[string, string]>,
    body: Buffer.concat(transport.chunks).toString('latin1'),
    date: head.headers.some(([name]) => name === 'Date'),
  };
}

describe('heads and bodies are those of a node:http server (_send, _contentLength, _removedContLen)', () => {
  const cases: Array<[string, Listener, string?]> = [
    ['end(chunk) before the head: Content-Length', (_req, res) => res.end('hello')],
    ['end() alone: Content-Length 0', (_req, res) => res.end()],
    [
      'write() then end(): no length',
      (_req, res) => {
        res.write('a');
        res.end('b');
      },
    ],
    [
      'removeHeader("Content-Length") then end(chunk): no length',
      (_req, res) => {
        res.removeHeader('Content-Length');
        res.end('x');
      },
    ],
    [
      'a Trailer header: no length',
      (_req, res) => {
        res.setHeader('Trailer', 'X-T');
        res.end('x');
      },
    ],
    ['HEAD: no length, no body', (_req, res) => res.end('hello'), 'HEAD'],
    [
      'writeHead with an object after setHeader, arrays kept apart',
      (_req, res) => {
        res.setHeader('X-Before', '1');
        res.writeHead(201, { 'X-A': ['1', '2'], 'Set-Cookie': ['a=1', 'b=2'] }).end('x');
      },
    ],
    [
      'writeHead with a flat list replacing a header set before',
      (_req, res) => {
        res.setHeader('X-A', 'old');
        res.writeHead(200, 'Fine', ['X-A', 'new', 'X-A', 'newer', 'X-B', 'b']).end();
      },
    ],
    [
      'sendDate off',
      (_req, res) => {
        res.sendDate = false;
        res.end('x');
      },
    ],
    ['204 drops the body', (_req, res) => res.writeHead(204).end('ignored')],
    [
      'a Content-Length of its own, a latin1 body',
      (_req, res) => {
        res.setHeader('Content-Length', 5);
        res.end('h\u00e9llo', 'latin1');
      },
    ],
  ];

  test.each(cases)('%s', async (_name, listener, method = 'GET') => {
    const node = await viaNodeHttp(listener, method);
    const { date, ...adapter } = await viaAdapter(listener, method);
    expect(adapter).toEqual(node);
    expect(date).toBe(_name !== 'sendDate off');
  });
});

test("kNeedDrain: 'drain' leaves writableNeedDrain false, as Node's server does", async () => {
  const transport = new FakeTransport({ backpressure: true });
  const seen: unknown[] = [];
  const done = runApp(
    nodeApp((_req, res) => {
      seen.push(res.write(Buffer.alloc(80 * 1024)), res.writableNeedDrain);
      res.once('drain', () => {
        seen.push(res.writableNeedDrain);
        res.end();
      });
    }),
    makeEnviron({ signal: transport.signal, cancellation: transport.cancellation }),
    transport,
  );
  await settle();
  while (!transport.calls.some((c) => c.type === 'end')) {
    transport.release();
    await settle();
  }
  await done;
  expect(seen).toEqual([false, true, false]);
});

test("_closed: res.closed once 'close' came; req.headersDistinct from _addHeaderLines", async () => {
  let closed: unknown;
  let distinct: unknown;
  const transport = new FakeTransport();
  await runApp(
    nodeApp((req, res) => {
      distinct = req.headersDistinct;
      res.on('close', () => (closed = [res.closed, res.destroyed, res.writableFinished]));
      res.end('x');
    }),
    makeEnviron({ vars: { HTTP_X_ONE: 'a', HTTP_HOST: 'example.org' } }),
    transport,
  );
  await settle();
  expect(closed).toEqual([true, true, true]);
  expect(distinct).toEqual(expect.objectContaining({ 'x-one': ['a'], host: ['example.org'] }));
});
