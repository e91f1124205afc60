// The fetch adapter: WHATWG Request in, Response out, bodies streamed both ways, aborts, the environ as env.
import { PassThrough, Readable } from 'node:stream';
import { fetchApp, requestUrl } from '../../src/adapters/fetch';
import { runApp } from '../../src/gateway/driver';
import type { Logger } from 'pino';
import { FakeTransport, LEVEL, makeEnviron, recordingLogger } from '../helpers/gateway';

async function run(
  handler: Parameters<typeof fetchApp>[0],
  vars: Record<string, string> = {},
  options: { input?: Readable; transport?: FakeTransport; log?: Logger } = {},
): Promise<FakeTransport> {
  const transport = options.transport ?? new FakeTransport({ log: options.log });
  const environ = makeEnviron({ vars, signal: transport.signal, input: options.input, log: options.log });
  await runApp(fetchApp(handler), environ, transport);
  expect(transport.violations).toEqual([]);
  return transport;
}

const text = (t: FakeTransport): string => Buffer.concat(t.chunks).toString();

test.each([
  [{ HTTP_HOST: 'example.org', REQUEST_URI: '/a?b=1' }, 'http://example.org/a?b=1'],
  [{ SERVER_NAME: 'srv', SERVER_PORT: '8080', REQUEST_URI: '/x' }, 'http://srv:8080/x'],
  [{ SERVER_NAME: 'srv', SERVER_PORT: '443', HTTPS: 'on', REQUEST_URI: '/' }, 'https://srv/'],
  [{ HTTP_HOST: 'h', REQUEST_URI: 'http://other/abs' }, 'http://other/abs'],
])('requestUrl(%j) is %s', (vars, url) => {
  expect(requestUrl(makeEnviron({ vars }))).toBe(url);
});

test('the Request: method, URL, headers, streamed body; the environ as env; a context argument', async () => {
  let seen: unknown;
  const transport = await run(
    async (request, environ, context) => {
      seen = {
        method: request.method,
        url: request.url,
        type: request.headers.get('content-type'),
        cookie: request.headers.get('cookie'),
        body: await request.text(),
        user: environ.REMOTE_USER,
        waitUntil: typeof context.waitUntil,
      };
      return new Response('ok', { status: 201 });
    },
    {
      REQUEST_METHOD: 'POST',
      HTTP_HOST: 'h.test',
      REQUEST_URI: '/p',
      CONTENT_TYPE: 'text/plain',
      CONTENT_LENGTH: '6',
      HTTP_COOKIE: 'a=1; b=2',
      REMOTE_USER: 'bob',
    },
    { input: Readable.from([Buffer.from('abc'), Buffer.from('def')]) },
  );
  expect(seen).toEqual({
    method: 'POST',
    url: 'http://h.test/p',
    type: 'text/plain',
    cookie: 'a=1; b=2',
    body: 'abcdef',
    user: 'bob',
    waitUntil: 'function',
  });
  expect(transport.calls[0]).toMatchObject({ type: 'head', status: '201 Created' });
  expect(text(transport)).toBe('ok');
});

test('every Set-Cookie is kept apart; a ReadableStream body streams chunk by chunk', async () => {
  const transport = await run(() => {
    const headers = new Headers({ 'Content-Type': 'text/plain' });
    headers.append('Set-Cookie', 'a=1; Path=/');
    headers.append('Set-Cookie', 'b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT');
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('one,'));
        controller.enqueue(new TextEncoder().encode('two'));
        controller.close();
      },
    });
    return new Response(body, { headers });
  });
  const head = transport.calls[0];
  expect(head.type === 'head' && head.headers.filter(([n]) => n === 'set-cookie')).toEqual([
    ['set-cookie', 'a=1; Path=/'],
    ['set-cookie', 'b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT'],
  ]);
  expect(transport.calls.map((c) => c.type)).toEqual(['head', 'body', 'end']);
  expect(text(transport)).toBe('one,two');
});

test('request.signal aborts when the front end goes away; the response stream is cancelled', async () => {
  const transport = new FakeTransport();
  let aborted = false;
  let cancelled = false;
  const done = run(
    (request) => {
      request.signal.addEventListener('abort', () => (aborted = true));
      let n = 0;
      const body = new ReadableStream({
        async pull(controller) {
          await new Promise((r) => setTimeout(r, 5));
          controller.enqueue(new TextEncoder().encode(`tick ${n++}\n`));
        },
        cancel() {
          cancelled = true;
        },
      });
      return new Response(body);
    },
    {},
    { transport, input: new PassThrough() },
  );
  await new Promise((r) => setTimeout(r, 30));
  transport.abortRequest();
  await done;
  await new Promise((r) => setTimeout(r, 20));
  expect(aborted).toBe(true);
  expect(cancelled).toBe(true);
});

test('an idle stream is cancelled when the front end goes away, though no chunk ever comes', async () => {
  const transport = new FakeTransport();
  let cancelled = false;
  const done = run(
    () =>
      new Response(
        new ReadableStream({
          pull: () => new Promise(() => undefined),
          cancel() {
            cancelled = true;
          },
        }),
      ),
    {},
    { transport },
  );
  await new Promise((r) => setTimeout(r, 20));
  transport.abortRequest();
  await done;
  await new Promise((r) => setTimeout(r, 20));
  expect(cancelled).toBe(true);
});

describe('a body of unknown length', () => {
  const sent = Buffer.alloc(100_000, 'x');

  // CONTENT_LENGTH absent (Apache), empty (nginx) or -1 (Caddy), with and without Transfer-Encoding.
  test.each([
    ['POST', { CONTENT_LENGTH: '-1' }],
    ['PUT', { CONTENT_LENGTH: '' }],
    ['PATCH', {}],
    ['POST', { CONTENT_LENGTH: '', HTTP_TRANSFER_ENCODING: 'chunked' }],
  ])('%s %j: request.body streams whatever arrives', async (method, vars) => {
    let seen: unknown;
    await run(
      async (request, environ) => {
        const bytes = Buffer.from(await request.arrayBuffer());
        seen = {
          length: request.headers.get('content-length'),
          te: request.headers.get('transfer-encoding'),
          environLength: environ.CONTENT_LENGTH,
          same: bytes.equals(sent),
        };
        return new Response('ok');
      },
      { REQUEST_METHOD: method, ...vars },
      { input: Readable.from([sent.subarray(0, 70_000), sent.subarray(70_000)]) },
    );
    expect(seen).toEqual({ length: null, te: null, environLength: undefined, same: true });
  });

  // The input never ends here: a handler waiting for a body would never answer.
  test.each([
    ['GET', { CONTENT_LENGTH: '' }],
    ['GET', { CONTENT_LENGTH: '-1' }],
    ['HEAD', {}],
    // A GET or HEAD Request cannot have a body (the Fetch standard), Transfer-Encoding or not.
    ['GET', { CONTENT_LENGTH: '-1', HTTP_TRANSFER_ENCODING: 'chunked' }],
  ])('%s %j: request.body is null', async (method, vars) => {
    let body: unknown = 'unset';
    const input = new PassThrough();
    input.write('never read');
    const transport = await run(
      (request) => {
        body = request.body;
        return new Response('ok');
      },
      { REQUEST_METHOD: method, ...vars },
      { input },
    );
    expect(body).toBeNull();
    expect(transport.calls[0]).toMatchObject({ type: 'head', status: '200 OK' });
  });
});

test('HEAD keeps the length the handler set and sends no body; a non-Response is a 500', async () => {
  const head = await run(() => new Response('hello', { headers: { 'Content-Length': '5' } }), {
    REQUEST_METHOD: 'HEAD',
  });
  expect(head.calls[0]).toMatchObject({ type: 'head', first: null });
  expect(head.chunks).toEqual([]);
  const bad = await run(() => 'not a response' as unknown as Response);
  expect(bad.calls[0]).toMatchObject({ status: '500 Internal Server Error' });
});

test('Upgrade: 501 without calling the handler', async () => {
  const handler = jest.fn();
  const transport = await run(handler, { HTTP_UPGRADE: 'websocket', HTTP_CONNECTION: 'Upgrade' });
  expect(transport.calls[0]).toMatchObject({ status: '501 Not Implemented' });
  expect(handler).not.toHaveBeenCalled();
});

/**
 * A Response can hold only what FastCGI and SCGI carry, or nearly: undici takes statuses 200–599
 * (`new Response(null, { status: 101 })` throws a RangeError in the handler, an ordinary app error),
 * and Response.error() has status 0.
 */
describe('statuses FastCGI and SCGI cannot carry', () => {
  /** A Response reporting `status`, as a subclass or a wrapper from another runtime could. */
  function withStatus(status: number, body: ReadableStream<Uint8Array> | null = null): Response {
    const response = new Response(body);
    Object.defineProperty(response, 'status', { value: status });
    return response;
  }

  test.each([
    ['Response.error()', () => Response.error(), { code: 'ERR_GATEWAY_BAD_STATUS' }],
    ['a status of 101', () => withStatus(101), { code: 'ERR_GATEWAY_SWITCHING_PROTOCOLS' }],
    ['a status of 103', () => withStatus(103), { code: 'ERR_GATEWAY_SWITCHING_PROTOCOLS' }],
    ['a status of 600', () => withStatus(600), { code: 'ERR_GATEWAY_BAD_STATUS' }],
    [
      'new Response(null, { status: 101 }), which undici refuses',
      () => new Response(null, { status: 101 }),
      { err: expect.objectContaining({ type: 'RangeError' }) },
    ],
  ])('%s: the plain 500, and why in the log', async (_name, make, why) => {
    const { log, lines } = recordingLogger();
    const transport = await run(() => make(), {}, { log });
    expect(transport.calls.map((c) => (c.type === 'head' ? c.status : c.type))).toEqual([
      '500 Internal Server Error',
      'end',
    ]);
    expect(lines).toEqual([expect.objectContaining({ level: LEVEL.error, msg: 'app failed', ...why })]);
  });

  test('the body of a refused response is cancelled, not left running', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull: () => new Promise(() => undefined),
      cancel: () => void (cancelled = true),
    });
    const transport = await run(() => withStatus(101, body));
    expect(transport.calls[0]).toMatchObject({ status: '500 Internal Server Error' });
    expect(cancelled).toBe(true);
  });
});
