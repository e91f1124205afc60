// compress: negotiation, header rules, skipped responses, whole and streamed bodies that decompress intact.
import zlib from 'node:zlib';
import { compress, negotiate } from '../../src/middleware/compress';
import { runApp } from '../../src/gateway/driver';
import type { App, HeaderList } from '../../src/gateway/types';
import { FakeTransport, makeEnviron } from '../helpers/gateway';

const TEXT = 'hello, compressible world! '.repeat(200);

async function get(
  app: App,
  acceptEncoding: string,
  method = 'GET',
): Promise<{ status: string; headers: HeaderList; body: Buffer }> {
  const transport = new FakeTransport();
  const environ = makeEnviron({
    vars: { REQUEST_METHOD: method, HTTP_ACCEPT_ENCODING: acceptEncoding },
    signal: transport.signal,
  });
  await runApp(compress()(app), environ, transport);
  expect(transport.violations).toEqual([]);
  const head = transport.calls[0];
  if (head.type !== 'head') throw new Error('no head');
  return { status: head.status, headers: head.headers, body: Buffer.concat(transport.chunks) };
}

const header = (headers: HeaderList, name: string): string | undefined =>
  headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];

function decode(encoding: string | undefined, body: Buffer): string {
  if (encoding === 'br') return zlib.brotliDecompressSync(body).toString();
  if (encoding === 'gzip') return zlib.gunzipSync(body).toString();
  if (encoding === 'deflate') return zlib.inflateSync(body).toString();
  return body.toString();
}

test.each([
  ['gzip, deflate, br', 'br'],
  ['gzip;q=1, br;q=0.5', 'gzip'],
  ['deflate', 'deflate'],
  ['*', 'br'],
  ['br;q=0, *;q=0.1', 'gzip'],
  ['identity', null],
  ['', null],
])('negotiate(%j) is %j', (accept, encoding) => {
  expect(negotiate(accept, ['br', 'gzip', 'deflate'])).toBe(encoding);
});

const whole: App = (_e, start) => {
  start('200 OK', [
    ['Content-Type', 'text/plain'],
    ['Content-Length', String(TEXT.length)],
    ['ETag', '"v1"'],
  ]);
  return [TEXT];
};

const streamed: App = async function* (_e, start) {
  const write = start('200 OK', [['Content-Type', 'text/html']]);
  await write(TEXT.slice(0, 100));
  yield TEXT.slice(100, 2000);
  yield TEXT.slice(2000);
};

test.each(['gzip', 'br', 'deflate'])(
  '%s: whole body compressed at once, headers adjusted',
  async (encoding) => {
    const response = await get(whole, encoding);
    expect(header(response.headers, 'Content-Encoding')).toBe(encoding);
    expect(header(response.headers, 'Vary')).toBe('Accept-Encoding');
    expect(header(response.headers, 'ETag')).toBe('W/"v1"');
    // Dropped; the transport sets the compressed length, as the body is whole again.
    expect(header(response.headers, 'Content-Length')).toBeUndefined();
    expect(response.body.length).toBeLessThan(TEXT.length / 4);
    expect(decode(encoding, response.body)).toBe(TEXT);
  },
);

test.each(['gzip', 'br'])(
  '%s: write() and a streamed body decompress intact, no Content-Length',
  async (encoding) => {
    const response = await get(streamed, encoding);
    expect(header(response.headers, 'Content-Encoding')).toBe(encoding);
    expect(header(response.headers, 'Content-Length')).toBeUndefined();
    expect(decode(encoding, response.body)).toBe(TEXT);
  },
);

test('no acceptable encoding: untouched but Vary set', async () => {
  const response = await get(whole, 'identity');
  expect(header(response.headers, 'Content-Encoding')).toBeUndefined();
  expect(header(response.headers, 'Vary')).toBe('Accept-Encoding');
  expect(response.body.toString()).toBe(TEXT);
});

test.each<[string, App, string, string]>([
  ['HEAD', whole, 'HEAD', ''],
  ['304', (_e, s) => (s('304 Not Modified', []), []), 'GET', ''],
  ['204', (_e, s) => (s('204 No Content', []), []), 'GET', ''],
  ['an image', (_e, s) => (s('200 OK', [['Content-Type', 'image/png']]), [TEXT]), 'GET', TEXT],
  ['a zip', (_e, s) => (s('200 OK', [['Content-Type', 'application/zip']]), [TEXT]), 'GET', TEXT],
  ['already encoded', (_e, s) => (s('200 OK', [['Content-Encoding', 'br']]), [TEXT]), 'GET', TEXT],
  ['no-transform', (_e, s) => (s('200 OK', [['Cache-Control', 'no-transform']]), [TEXT]), 'GET', TEXT],
  ['below the threshold', (_e, s) => (s('200 OK', [['Content-Length', '3']]), ['abc']), 'GET', 'abc'],
])('%s is sent as the app wrote it', async (_name, app, method, body) => {
  const response = await get(app, 'gzip', method);
  expect(response.headers.filter(([n]) => n === 'Content-Encoding').map(([, v]) => v)).not.toContain('gzip');
  expect(response.body.toString()).toBe(body);
});
