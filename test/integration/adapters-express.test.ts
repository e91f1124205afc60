// Express behind sluice, unchanged: the shared framework cases over raw SCGI, raw FastCGI and nginx, then
// what the issue names for Express itself: sendFile with Range and ETag, server-sent events through
// nginx, the request as Express sees it, Expect: 100-continue, upgrades, and statuses FastCGI and SCGI
// cannot carry.
import http from 'node:http';
import { DOWNLOAD, frameworkSuite } from './adapter-cases';
import { waitForLog } from './interop-cases';

const suite = frameworkSuite('express', 'test/fixtures/apps/frameworks/express.mjs');

describe.each(suite.ways.map((way) => [way.name, way] as const))('%s, Express only', (_name, way) => {
  test('sendFile: a Range request is a 206 with just those bytes', async () => {
    const reply = await way.request({ path: '/file', headers: { Range: 'bytes=10-29' } });
    expect(reply.status).toBe(206);
    expect(reply.headers['content-range']?.[0]).toBe(`bytes 10-29/${DOWNLOAD.length}`);
    expect(reply.body.equals(DOWNLOAD.subarray(10, 30))).toBe(true);
  });

  test('sendFile: If-None-Match with the ETag is a 304 without a body', async () => {
    const first = await way.request({ path: '/file' });
    const etag = first.headers.etag?.[0];
    expect(etag).toBeDefined();
    const again = await way.request({ path: '/file', headers: { 'If-None-Match': etag! } });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
  });

  test('HEAD: the head of the GET, no body', async () => {
    const reply = await way.request({ method: 'HEAD', path: '/file' });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-length']?.[0]).toBe(String(DOWNLOAD.length));
    expect(reply.body.length).toBe(0);
  });

  test.each([
    ['/switch', 'res.status(101).end()', 'ERR_GATEWAY_SWITCHING_PROTOCOLS'],
    ['/switch-head', 'res.writeHead(101) and flushHeaders()', 'ERR_GATEWAY_SWITCHING_PROTOCOLS'],
    ['/status/600', 'res.status(600)', 'ERR_GATEWAY_BAD_STATUS'],
    ['/status/999', 'res.status(999), the highest node:http allows', 'ERR_GATEWAY_BAD_STATUS'],
  ])('%s (%s) is answered 500 and logged with %s', async (path, _what, code) => {
    const logged = (l: Record<string, unknown>): boolean => l.code === code;
    const before = suite.daemon().logLines().filter(logged).length;
    const reply = await way.request({ path });
    expect(reply.status).toBe(500);
    const line = await waitForLog(
      suite.daemon(),
      (l) => logged(l) && suite.daemon().logLines().filter(logged).length > before,
    );
    if (code === 'ERR_GATEWAY_SWITCHING_PROTOCOLS') {
      // What the issue asks the log to say, in so many words.
      expect((line.err as { message?: string }).message).toContain(
        'FastCGI and SCGI cannot switch protocols',
      );
    }
    expect((await way.request({ path: '/hello' })).status).toBe(200);
  });

  test('an Upgrade (WebSocket) request is answered 501 and logged', async () => {
    const reply = await way.request({
      path: '/hello',
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13' },
    });
    expect(reply.status).toBe(501);
    await waitForLog(suite.daemon(), (l) => String(l.msg).includes('cannot carry an upgraded connection'));
  });
});

test('raw FastCGI: req.ip, req.protocol and req.environ come from what the front end vouches for', async () => {
  const way = suite.ways.find((w) => w.name === 'raw FastCGI')!;
  const reply = await way.request({
    path: '/whoami?x=1',
    vars: { HTTPS: 'on', REMOTE_USER: 'alice', REMOTE_ADDR: '198.51.100.7', SERVER_PROTOCOL: 'HTTP/2.0' },
  });
  expect(JSON.parse(reply.body.toString())).toEqual({
    ip: '198.51.100.7',
    protocol: 'https',
    httpVersion: '2.0',
    remoteUser: 'alice',
    path: '/whoami',
    query: { x: '1' },
  });
});

describe('through nginx', () => {
  const nginx = suite.ways.find((w) => w.name === 'nginx');
  const maybe = nginx ? test : test.skip;

  maybe('server-sent events reach the client unbuffered (X-Accel-Buffering: no)', async () => {
    const port = suite.frontEnd()!.port;
    const started = Date.now();
    const first = await new Promise<{ at: number; text: string; status: number }>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/events', agent: false }, (res) => {
        res.once('data', (chunk: Buffer) => {
          resolve({ at: Date.now() - started, text: chunk.toString(), status: res.statusCode ?? 0 });
          res.resume();
        });
      });
      req.on('error', reject);
    });
    expect(first.status).toBe(200);
    expect(first.text).toBe('data: first\n\n');
    // The app waits 1.5 s before its last event: a buffered response would arrive only after that.
    expect(first.at).toBeLessThan(1000);
  });

  maybe('Expect: 100-continue: nginx answers the 100 itself, the app reads the body', async () => {
    const reply = await nginx!.request({
      method: 'POST',
      path: '/json',
      headers: { 'Content-Type': 'application/json', Expect: '100-continue' },
      body: Buffer.from('{"continued":true}'),
    });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body.toString()).received).toEqual({ continued: true });
  });
});
