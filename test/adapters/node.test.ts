// The Node adapter: Node's own IncomingMessage and ServerResponse over the gateway, driven in-process.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import express from 'express';
import { nodeApp, type GatewayIncomingMessage } from '../../src/adapters/node';
import { runApp } from '../../src/gateway/driver';
import { buildCgiVariables, createEnviron } from '../../src/gateway/environ';
import { FakeTransport, LEVEL, makeEnviron, recordingLogger, settle, silentLog } from '../helpers/gateway';

type Listener = (req: IncomingMessage, res: ServerResponse) => unknown;

interface Exchange {
  transport: FakeTransport;
  done: Promise<void>;
}

function start(
  listener: Listener,
  vars: Record<string, string> = {},
  options: {
    input?: Readable;
    transport?: FakeTransport;
    log?: ReturnType<typeof recordingLogger>['log'];
    /** Only the AbortSignal says the front end went away (an environ without a connection behind it). */
    viaSignal?: boolean;
  } = {},
): Exchange {
  const transport = options.transport ?? new FakeTransport({ log: options.log });
  const environ = makeEnviron({
    vars: { REQUEST_URI: '/', ...vars },
    signal: transport.signal,
    cancellation: options.viaSignal ? undefined : transport.cancellation,
    input: options.input,
    log: options.log,
  });
  const done = runApp(nodeApp(listener), environ, transport);
  return { transport, done };
}

async function run(
  listener: Listener,
  vars: Record<string, string> = {},
  input?: Readable,
): Promise<FakeTransport> {
  const exchange = start(listener, vars, { input });
  await exchange.done;
  expect(exchange.transport.violations).toEqual([]);
  return exchange.transport;
}

function head(transport: FakeTransport) {
  const call = transport.calls[0];
  if (call?.type !== 'head') throw new Error(`no head: ${JSON.stringify(transport.calls)}`);
  return call;
}

const body = (transport: FakeTransport): string => Buffer.concat(transport.chunks).toString();

describe('the request', () => {
  test('method, url, headers, version, socket addresses and the environ', async () => {
    let seen: Record<string, unknown> = {};
    await run(
      (req, res) => {
        seen = {
          method: req.method,
          url: req.url,
          headers: req.headers,
          rawHeaders: req.rawHeaders,
          httpVersion: req.httpVersion,
          remoteAddress: req.socket.remoteAddress,
          remotePort: req.socket.remotePort,
          encrypted: (req.socket as { encrypted?: boolean }).encrypted,
          remoteUser: (req as GatewayIncomingMessage).environ.REMOTE_USER,
        };
        res.end();
      },
      {
        REQUEST_METHOD: 'DELETE',
        REQUEST_URI: '/a/b?x=1&y=%20',
        SERVER_PROTOCOL: 'HTTP/2.0',
        HTTP_HOST: 'example.org',
        HTTP_X_MULTI: 'one, two',
        HTTP_COOKIE: 'a=1; b=2',
        CONTENT_TYPE: 'text/plain',
        REMOTE_ADDR: '203.0.113.9',
        REMOTE_PORT: '51515',
        REMOTE_USER: 'alice',
        HTTPS: 'on',
      },
    );
    expect(seen).toEqual({
      method: 'DELETE',
      url: '/a/b?x=1&y=%20',
      headers: {
        host: 'example.org',
        'x-multi': 'one, two',
        cookie: 'a=1; b=2',
        'content-type': 'text/plain',
        // No CONTENT_LENGTH: a DELETE may have a body of unknown length (here an empty one).
        'transfer-encoding': 'chunked',
      },
      rawHeaders: [
        'host',
        'example.org',
        'x-multi',
        'one, two',
        'cookie',
        'a=1; b=2',
        'content-type',
        'text/plain',
        'transfer-encoding',
        'chunked',
      ],
      httpVersion: '2.0',
      remoteAddress: '203.0.113.9',
      remotePort: 51515,
      encrypted: true,
      remoteUser: 'alice',
    });
  });

  test('url rebuilt from SCRIPT_NAME, PATH_INFO and QUERY_STRING when REQUEST_URI is missing', async () => {
    let url: string | undefined;
    const transport = new FakeTransport();
    const vars = buildCgiVariables(
      ['REQUEST_METHOD', 'GET', 'SCRIPT_NAME', '/app', 'PATH_INFO', '/x y', 'QUERY_STRING', 'a=1'],
      { mount: '' },
    );
    const environ = createEnviron(vars, {
      input: Readable.from([]),
      errors: new PassThrough(),
      signal: transport.signal,
      protocol: 'fastcgi',
      log: silentLog,
      multiprocess: false,
    });
    await runApp(
      nodeApp((req, res) => {
        url = req.url;
        res.end();
      }),
      environ,
      transport,
    );
    expect(url).toBe('/app/x%20y?a=1');
    expect(transport.calls).toContainEqual({ type: 'end' });
  });

  test('a body of known length arrives whole; the socket is not encrypted without HTTPS', async () => {
    const transport = await run(
      (req, res) => {
        expect((req.socket as { encrypted?: boolean }).encrypted).toBeUndefined();
        req.pipe(res);
      },
      { REQUEST_METHOD: 'POST', CONTENT_LENGTH: '11' },
      Readable.from([Buffer.from('hello '), Buffer.from('world')]),
    );
    expect(body(transport)).toBe('hello world');
  });

  test('a streamed body of unknown length (Transfer-Encoding from the front end) arrives whole', async () => {
    let framing: unknown;
    const transport = await run(
      (req, res) => {
        framing = [req.headers['transfer-encoding'], req.headers['content-length']];
        req.pipe(res);
      },
      { REQUEST_METHOD: 'POST', CONTENT_LENGTH: '', HTTP_TRANSFER_ENCODING: 'chunked' },
      Readable.from([Buffer.from('a'.repeat(70_000)), Buffer.from('b')]),
    );
    expect(framing).toEqual(['chunked', undefined]);
    expect(body(transport)).toBe('a'.repeat(70_000) + 'b');
  });

  test('a header value with CR or LF is refused with 400 before the listener runs', async () => {
    const listener = jest.fn();
    const transport = await run(listener, { HTTP_X_EVIL: 'a\r\nContent-Length: 5' });
    expect(head(transport).status).toBe('400 Bad Request');
    expect(listener).not.toHaveBeenCalled();
  });
});

describe('a body of unknown length', () => {
  /** What the listener saw: framing headers, the environ's CONTENT_LENGTH and the body it read. */
  interface Seen {
    te: string | undefined;
    length: string | undefined;
    environLength: string | undefined;
    body: string;
  }

  function echo(seen: Seen[]): Listener {
    return (req, res) => {
      let text = '';
      req.setEncoding('latin1');
      req.on('data', (chunk: string) => (text += chunk));
      req.on('end', () => {
        seen.push({
          te: req.headers['transfer-encoding'],
          length: req.headers['content-length'],
          environLength: (req as GatewayIncomingMessage).environ.CONTENT_LENGTH,
          body: text,
        });
        res.end(text);
      });
    };
  }

  // CONTENT_LENGTH absent (Apache), empty (nginx) or -1 (Caddy), with and without Transfer-Encoding.
  test.each([
    ['POST', { CONTENT_LENGTH: '-1' }],
    ['PUT', { CONTENT_LENGTH: '' }],
    ['PATCH', {}],
    ['POST', { CONTENT_LENGTH: '', HTTP_TRANSFER_ENCODING: 'chunked' }],
    ['GET', { CONTENT_LENGTH: '-1', HTTP_TRANSFER_ENCODING: 'chunked' }],
  ])('%s %j streams whatever arrives as a chunked request', async (method, vars) => {
    const seen: Seen[] = [];
    const sent = 'a'.repeat(70_000) + 'b';
    const transport = await run(
      echo(seen),
      { REQUEST_METHOD: method, ...vars },
      Readable.from([Buffer.from(sent.slice(0, -1)), Buffer.from(sent.slice(-1))]),
    );
    expect(seen.map((s) => ({ ...s, body: s.body === sent }))).toEqual([
      { te: 'chunked', length: undefined, environLength: undefined, body: true },
    ]);
    expect(body(transport) === sent).toBe(true);
  });

  test('an empty body of unknown length ends when the input ends', async () => {
    const seen: Seen[] = [];
    const input = new PassThrough();
    const { transport, done } = start(
      echo(seen),
      { REQUEST_METHOD: 'DELETE', CONTENT_LENGTH: '-1' },
      { input },
    );
    await settle();
    expect(seen).toEqual([]);
    input.end();
    await done;
    expect(seen).toEqual([{ te: 'chunked', length: undefined, environLength: undefined, body: '' }]);
    expect(head(transport).status).toBe('200 OK');
  });

  // The input never ends here: a listener waiting for the body would never answer.
  test.each([
    ['GET', { CONTENT_LENGTH: '' }],
    ['GET', { CONTENT_LENGTH: '-1' }],
    ['GET', {}],
    ['HEAD', { CONTENT_LENGTH: '' }],
  ])('%s %j without Transfer-Encoding shows the listener no body', async (method, vars) => {
    const seen: Seen[] = [];
    const input = new PassThrough();
    input.write('never read');
    const { transport, done } = start(echo(seen), { REQUEST_METHOD: method, ...vars }, { input });
    await done;
    expect(seen).toEqual([{ te: undefined, length: undefined, environLength: undefined, body: '' }]);
    expect(head(transport).status).toBe('200 OK');
  });

  test("Express's body parsers read it: type-is sees a body without Content-Length", async () => {
    const app = express();
    app.post('/hash', express.raw({ type: '*/*' }), (req, res) => {
      const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      // req.is() asks type-is, which answers null for a request it thinks has no body.
      res.json({ type: req.is('*/*'), parsed: Buffer.isBuffer(req.body), bytes: bytes.length });
    });
    const transport = await run(
      app,
      { REQUEST_METHOD: 'POST', REQUEST_URI: '/hash', CONTENT_LENGTH: '-1', CONTENT_TYPE: 'image/png' },
      Readable.from([Buffer.alloc(1000, 1), Buffer.alloc(24, 2)]),
    );
    expect(JSON.parse(body(transport))).toEqual({ type: 'image/png', parsed: true, bytes: 1024 });
  });
});

describe('the response', () => {
  test('writeHead with an object, statusMessage, and the hop-by-hop headers dropped', async () => {
    const transport = await run((_req, res) => {
      res.writeHead(418, 'Short And Stout', { 'Content-Type': 'text/plain', 'X-A': ['1', '2'] });
      res.end('tea');
    });
    expect(head(transport).status).toBe('418 Short And Stout');
    const names = head(transport).headers.map(([name]) => name.toLowerCase());
    expect(names).toEqual(['content-type', 'x-a', 'x-a', 'date']);
    expect(names).not.toContain('connection');
    expect(names).not.toContain('transfer-encoding');
    expect(body(transport)).toBe('tea');
  });

  test('writeHead with raw arrays; setHeader, getHeader, removeHeader, hasHeader, getHeaders', async () => {
    let api: unknown;
    const transport = await run((_req, res) => {
      res.setHeader('X-Gone', 'x');
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      res.removeHeader('X-Gone');
      api = [res.getHeader('set-cookie'), res.hasHeader('x-gone'), Object.keys(res.getHeaders())];
      res.writeHead(201, ['X-Flat', 'yes', 'X-Flat2', 'also']);
      res.end();
    });
    expect(api).toEqual([['a=1', 'b=2'], false, ['set-cookie']]);
    expect(head(transport).status).toBe('201 Created');
    expect(head(transport).headers).toEqual(
      expect.arrayContaining([
        ['Set-Cookie', 'a=1'],
        ['Set-Cookie', 'b=2'],
        ['X-Flat', 'yes'],
        ['X-Flat2', 'also'],
      ]),
    );
  });

  test('a streamed response: chunks in order, callbacks, headersSent, finish then close', async () => {
    const events: string[] = [];
    const transport = await run((_req, res) => {
      res.statusCode = 202;
      res.on('finish', () => events.push('finish'));
      res.on('close', () => events.push('close'));
      res.write('a', () => events.push('write callback'));
      events.push(`headersSent ${res.headersSent}`);
      setTimeout(() => {
        res.write(Buffer.from('b'));
        res.end('c', () => events.push('end callback'));
      }, 5);
    });
    await settle();
    expect(head(transport).status).toBe('202 Accepted');
    expect(transport.calls.map((c) => c.type)).toEqual(['head', 'body', 'body', 'end']);
    expect(body(transport)).toBe('abc');
    expect(events).toEqual(['headersSent true', 'write callback', 'finish', 'end callback', 'close']);
  });

  test('flushHeaders sends the head before any body', async () => {
    const { transport, done } = start((_req, res) => {
      res.setHeader('Content-Type', 'text/event-stream');
      res.flushHeaders();
      setTimeout(() => res.end('data: x\n\n'), 20);
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(transport.calls.map((c) => c.type)).toEqual(['head']);
    await done;
    expect(body(transport)).toBe('data: x\n\n');
  });

  test('HEAD: the head with the length the listener set, no body', async () => {
    const transport = await run(
      (_req, res) => {
        res.setHeader('Content-Length', '5');
        res.end('hello');
      },
      { REQUEST_METHOD: 'HEAD' },
    );
    expect(head(transport).headers).toContainEqual(['Content-Length', '5']);
    expect(transport.chunks).toEqual([]);
  });

  test('304 without a body', async () => {
    const transport = await run((_req, res) => {
      res.writeHead(304, { ETag: '"v1"' });
      res.end('ignored');
    });
    expect(head(transport).status).toBe('304 Not Modified');
    expect(transport.chunks).toEqual([]);
  });

  test('Expect: 100-continue: writeContinue() is absorbed, the final head follows', async () => {
    const transport = await run(
      (req, res) => {
        res.writeContinue();
        req.pipe(res);
      },
      { REQUEST_METHOD: 'PUT', CONTENT_LENGTH: '2', HTTP_EXPECT: '100-continue' },
      Readable.from([Buffer.from('ok')]),
    );
    expect(head(transport).status).toBe('200 OK');
    expect(body(transport)).toBe('ok');
  });

  test("backpressure: write() returns false until the front end's socket takes the bytes, then 'drain'", async () => {
    const transport = new FakeTransport({ backpressure: true });
    const seen: string[] = [];
    const big = Buffer.alloc(80 * 1024, 'x');
    const { done } = start(
      (_req, res) => {
        seen.push(`first write ${res.write(big)}`);
        seen.push(`second write ${res.write(big)}`);
        res.once('drain', () => {
          seen.push('drain');
          res.end();
        });
      },
      {},
      { transport },
    );
    await settle();
    expect(seen).toEqual(['first write false', 'second write false']);
    while (!transport.calls.some((c) => c.type === 'end')) {
      transport.release();
      await settle();
    }
    await done;
    expect(seen).toContain('drain');
    expect(Buffer.concat(transport.chunks).length).toBe(2 * big.length);
  });
});

describe('failures and aborts', () => {
  test('a listener that throws gets a 500; one that rejects too', async () => {
    const thrown = await run(() => {
      throw new Error('boom');
    });
    expect(head(thrown).status).toBe('500 Internal Server Error');
    const rejected = await run(async () => {
      throw new Error('later');
    });
    expect(head(rejected).status).toBe('500 Internal Server Error');
  });

  test.each([
    ['the connection flag', false],
    ['the AbortSignal', true],
  ])(
    "the front end going away (seen through %s): req 'aborted' and 'close', res 'close' without 'finish'",
    async (_through, viaSignal) => {
      const events: string[] = [];
      const input = new PassThrough();
      const { transport, done } = start(
        (req, res) => {
          req.on('aborted', () => events.push('req aborted'));
          req.on('close', () => events.push('req close'));
          res.on('close', () => events.push(`res close, finished ${res.writableFinished}`));
          res.write('partial');
        },
        { REQUEST_METHOD: 'POST', CONTENT_LENGTH: '100' },
        { input, viaSignal },
      );
      input.write('some');
      await settle();
      transport.abortRequest();
      await done;
      await new Promise((r) => setTimeout(r, 10));
      expect(events).toEqual(
        expect.arrayContaining(['req aborted', 'req close', 'res close, finished false']),
      );
    },
  );

  test('an Upgrade request is answered 501 and logged, the listener never runs', async () => {
    const { log, lines } = recordingLogger();
    const listener = jest.fn();
    const exchange = start(
      listener,
      { HTTP_UPGRADE: 'websocket', HTTP_CONNECTION: 'keep-alive, Upgrade' },
      { log },
    );
    await exchange.done;
    expect(head(exchange.transport).status).toBe('501 Not Implemented');
    expect(listener).not.toHaveBeenCalled();
    expect(lines.find((l) => l.msg.includes('cannot carry an upgraded connection'))).toMatchObject({
      upgrade: 'websocket',
    });
  });
});

// FastCGI and SCGI carry one final response per request: no protocol switch, no status past 599.
describe('statuses FastCGI and SCGI cannot carry', () => {
  const refused: Array<[string, Listener, string]> = [
    [
      'writeHead(101) then end()',
      (_req, res) => {
        res.writeHead(101);
        res.end();
      },
      'ERR_GATEWAY_SWITCHING_PROTOCOLS',
    ],
    [
      'statusCode 101 with the headers of a WebSocket handshake',
      (_req, res) => {
        res.statusCode = 101;
        res.setHeader('Connection', 'Upgrade');
        res.setHeader('Upgrade', 'websocket');
        res.end();
      },
      'ERR_GATEWAY_SWITCHING_PROTOCOLS',
    ],
    [
      'writeHead(101) and flushHeaders(), never ended',
      (_req, res) => {
        res.writeHead(101);
        res.flushHeaders();
      },
      'ERR_GATEWAY_SWITCHING_PROTOCOLS',
    ],
    [
      'writeHead(101) after writeContinue()',
      (_req, res) => {
        res.writeContinue();
        res.writeHead(101).end();
      },
      'ERR_GATEWAY_SWITCHING_PROTOCOLS',
    ],
    [
      'statusCode 600',
      (_req, res) => {
        res.statusCode = 600;
        res.end('body');
      },
      'ERR_GATEWAY_BAD_STATUS',
    ],
    [
      'writeHead(999), the highest node:http allows',
      (_req, res) => {
        res.writeHead(999, { 'Content-Type': 'text/plain' });
        res.end('body');
      },
      'ERR_GATEWAY_BAD_STATUS',
    ],
    [
      'writeHead(100) then end(): no final head ever comes',
      (_req, res) => {
        res.writeHead(100);
        res.end();
      },
      'ERR_ADAPTER_BAD_RESPONSE',
    ],
  ];

  test.each(refused)('%s: the plain 500, and the code in the log', async (_name, listener, code) => {
    const { log, lines } = recordingLogger();
    const exchange = start(listener, {}, { log });
    await exchange.done;
    expect(exchange.transport.violations).toEqual([]);
    expect(exchange.transport.calls.map((call) => (call.type === 'head' ? call.status : call.type))).toEqual([
      '500 Internal Server Error',
      'end',
    ]);
    expect(lines).toContainEqual(expect.objectContaining({ level: LEVEL.error, code }));
  });

  test.each([
    ['writeProcessing()', (res: ServerResponse) => res.writeProcessing()],
    [
      'writeEarlyHints()',
      (res: ServerResponse) => res.writeEarlyHints({ link: '</style.css>; rel=preload' }),
    ],
  ])('the interim head of %s is dropped, and the final head follows', async (_name, interim) => {
    const transport = await run((_req, res) => {
      interim(res);
      res.end('ok');
    });
    expect(head(transport).status).toBe('200 OK');
    expect(body(transport)).toBe('ok');
  });
});

describe('one adapted listener serving request after request', () => {
  /** Runs requests one after another through the same adapted app, as a daemon does. */
  function serveAll(
    listener: Listener,
  ): (vars?: Record<string, string>, input?: Readable) => Promise<FakeTransport> {
    const app = nodeApp(listener);
    return async (vars = {}, input) => {
      const transport = new FakeTransport();
      const environ = makeEnviron({
        vars: { REQUEST_URI: '/', ...vars },
        signal: transport.signal,
        cancellation: transport.cancellation,
        input,
      });
      await runApp(app, environ, transport);
      await settle();
      expect(transport.violations).toEqual([]);
      return transport;
    };
  }

  test('a finished exchange leaves its socket to the next request, with that request’s addresses', async () => {
    const seen: Array<[unknown, string | undefined, unknown]> = [];
    const serve = serveAll((req, res) => {
      seen.push([req.socket, req.socket.remoteAddress, (req.socket as { encrypted?: boolean }).encrypted]);
      res.end(req.url);
    });
    const first = await serve({ REQUEST_URI: '/one', REMOTE_ADDR: '192.0.2.1', HTTPS: 'on' });
    const second = await serve({ REQUEST_URI: '/two', REMOTE_ADDR: '192.0.2.2' });
    expect(body(first)).toBe('/one');
    expect(body(second)).toBe('/two');
    expect(seen[1][0]).toBe(seen[0][0]);
    expect(seen.map(([, address, encrypted]) => [address, encrypted])).toEqual([
      ['192.0.2.1', true],
      ['192.0.2.2', undefined],
    ]);
  });

  test('a request body read or left unread, then a GET: each request sees only its own bytes', async () => {
    const bodies: string[] = [];
    const serve = serveAll((req, res) => {
      if (req.url === '/ignore') return void res.end('ignored');
      let text = '';
      req.setEncoding('latin1');
      req.on('data', (chunk: string) => (text += chunk));
      req.on('end', () => {
        bodies.push(`${req.method} ${text}`);
        res.end(text);
      });
    });
    const post = { REQUEST_METHOD: 'POST', CONTENT_LENGTH: '5' };
    expect(body(await serve(post, Readable.from([Buffer.from('hello')])))).toBe('hello');
    expect(
      body(await serve({ ...post, REQUEST_URI: '/ignore' }, Readable.from([Buffer.from('xxxxx')]))),
    ).toBe('ignored');
    const chunked = { REQUEST_METHOD: 'PUT', CONTENT_LENGTH: '', HTTP_TRANSFER_ENCODING: 'chunked' };
    expect(body(await serve(chunked, Readable.from([Buffer.from('ab'), Buffer.from('c')])))).toBe('abc');
    expect(body(await serve())).toBe('');
    expect(bodies).toEqual(['POST hello', 'PUT abc', 'GET ']);
  });

  test('a body of unknown length without Transfer-Encoding, then GETs of unknown length: one socket', async () => {
    const seen: Array<[unknown, string]> = [];
    const serve = serveAll((req, res) => {
      let text = '';
      req.setEncoding('latin1');
      req.on('data', (chunk: string) => (text += chunk));
      req.on('end', () => {
        seen.push([req.socket, `${req.method} ${text}`]);
        res.end(text);
      });
    });
    const caddy = { REQUEST_METHOD: 'POST', CONTENT_LENGTH: '-1' };
    expect(body(await serve(caddy, Readable.from([Buffer.from('ab'), Buffer.from('c')])))).toBe('abc');
    // nginx's GET: an empty CONTENT_LENGTH and an input the listener never reads.
    const unread = new PassThrough();
    unread.write('stray');
    expect(body(await serve({ CONTENT_LENGTH: '' }, unread))).toBe('');
    expect(body(await serve({ CONTENT_LENGTH: '-1' }))).toBe('');
    expect(seen.map(([, line]) => line)).toEqual(['POST abc', 'GET ', 'GET ']);
    expect(new Set(seen.map(([socket]) => socket)).size).toBe(1);
  });

  test('Connection: close, an HTTP/1.0 request or a failure retire the socket', async () => {
    const sockets: unknown[] = [];
    const serve = serveAll((req, res) => {
      sockets.push(req.socket);
      if (req.url === '/close') res.setHeader('Connection', 'close');
      if (req.url === '/throw') throw new Error('boom');
      res.end('x');
    });
    await serve({ REQUEST_URI: '/close' });
    await serve({ SERVER_PROTOCOL: 'HTTP/1.0' });
    expect((await serve({ REQUEST_URI: '/throw' })).calls[0]).toMatchObject({
      status: '500 Internal Server Error',
    });
    await serve();
    await serve();
    expect(new Set(sockets).size).toBe(4);
    expect(sockets[4]).toBe(sockets[3]);
  });

  test('a request aborted after its socket moved on leaves the new request alone', async () => {
    const sockets: unknown[] = [];
    const app = nodeApp((req, res) => {
      sockets.push(req.socket);
      res.end('ok');
    });
    const old = new FakeTransport();
    await runApp(app, makeEnviron({ signal: old.signal, cancellation: old.cancellation }), old);
    await settle();
    const next = new FakeTransport();
    const second = runApp(app, makeEnviron({ signal: next.signal, cancellation: next.cancellation }), next);
    old.abortRequest();
    await second;
    expect(sockets[1]).toBe(sockets[0]);
    expect(next.calls.map((c) => c.type)).toEqual(['head', 'end']);
    expect(body(next)).toBe('ok');
  });

  test('a socket whose request was aborted is not used again', async () => {
    const sockets: unknown[] = [];
    const app = nodeApp((req, res) => {
      sockets.push(req.socket);
      if (req.url === '/hang') res.write('partial');
      else res.end('ok');
    });
    const aborted = new FakeTransport();
    const hanging = runApp(
      app,
      makeEnviron({
        vars: { REQUEST_URI: '/hang' },
        signal: aborted.signal,
        cancellation: aborted.cancellation,
      }),
      aborted,
    );
    await settle();
    aborted.abortRequest();
    await hanging;
    await settle();
    const next = new FakeTransport();
    await runApp(app, makeEnviron({ signal: next.signal, cancellation: next.cancellation }), next);
    expect(body(next)).toBe('ok');
    expect(sockets[1]).not.toBe(sockets[0]);
  });
});
