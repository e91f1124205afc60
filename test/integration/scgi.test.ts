// The daemon over raw SCGI sockets (Unix and TCP): requests, streaming, errors, bad input, aborts.
import net from 'node:net';
import { serializeScgiHeaders } from '../../src/scgi/serializer';
import { startDaemon, tempSocketPath, type Daemon } from '../helpers/daemon';
import { netConnectOptions } from '../../src/client/connect';
import { exchange, parseCgiResponse, requestVariables, scgiRequest } from '../helpers/scgi';
import { pattern, sha256 } from '../helpers/bytes';

const APP = 'test/fixtures/apps/probe.mjs';

async function waitForLog(
  daemon: Daemon,
  test: (line: Record<string, unknown>) => boolean,
  ms = 5000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (daemon.logLines().some(test)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`log line not seen within ${ms} ms:\n${daemon.logs()}`);
}

let daemon: Daemon;
let unix: string;
let tcp: string;

beforeAll(async () => {
  daemon = await startDaemon(APP, ['--scgi', 'unix:' + tempSocketPath('scgi.sock'), '--scgi', '127.0.0.1:0']);
  [unix, tcp] = daemon.addresses.scgi!;
});

afterAll(async () => {
  expect(await daemon.stop()).toBe(0);
});

describe.each([
  ['unix', () => unix],
  ['tcp', () => tcp],
])('over %s', (_kind, address) => {
  test('GET with a query string: environ as the app sees it', async () => {
    const response = await scgiRequest(
      address(),
      requestVariables('GET', '/env?x=1&y=%20', [
        ['HTTP_X_A', 'one'],
        ['HTTP_X_A', 'two'],
        ['HTTP_COOKIE', 'a=1'],
        ['HTTP_COOKIE', 'b=2'],
      ]),
    );
    expect(response.status).toBe(200);
    const environ = JSON.parse(response.body.toString());
    expect(environ).toMatchObject({
      REQUEST_METHOD: 'GET',
      QUERY_STRING: 'x=1&y=%20',
      SCRIPT_NAME: '',
      PATH_INFO: '/env',
      CONTENT_LENGTH: '0',
      SCGI: '1',
      HTTP_X_A: 'one, two',
      HTTP_COOKIE: 'a=1; b=2',
      'sluice.protocol': 'scgi',
      'sluice.url_scheme': 'http',
    });
  });

  test('POST of 10 MiB reaches the app intact', async () => {
    const body = pattern(10 * 1024 * 1024);
    const response = await scgiRequest(address(), requestVariables('POST', '/hash'), body);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body.toString())).toMatchObject({ bytes: body.length, sha256: sha256(body) });
  });

  test('a 10 MiB streamed response arrives intact', async () => {
    const size = 10 * 1024 * 1024;
    const response = await scgiRequest(address(), requestVariables('GET', `/stream?bytes=${size}`));
    expect(response.status).toBe(200);
    expect(response.body.length).toBe(size);
    expect(sha256(response.body)).toBe(sha256(pattern(size)));
  });
});

test('an echoed body comes back byte for byte', async () => {
  const body = Buffer.from('\x00\xff binary \r\n body', 'latin1');
  const response = await scgiRequest(unix, requestVariables('POST', '/echo'), body);
  expect(response.body.equals(body)).toBe(true);
});

test('the head is CGI-style with an explicit Status line and repeated headers', async () => {
  const response = await scgiRequest(unix, requestVariables('GET', '/headers'));
  expect(response.raw.toString('latin1')).toMatch(/^Status: 201 Created\r\n/);
  expect(response.headers.filter(([n]) => n === 'Set-Cookie')).toEqual([
    ['Set-Cookie', 'a=1'],
    ['Set-Cookie', 'b=2'],
  ]);
});

test('a body returned whole gets a Content-Length; one the app set is not repeated', async () => {
  const whole = await scgiRequest(unix, requestVariables('GET', '/headers'));
  expect(whole.headers.filter(([n]) => n.toLowerCase() === 'content-length')).toEqual([
    ['Content-Length', '8'],
  ]);
  const streamed = await scgiRequest(unix, requestVariables('GET', '/stream?bytes=1000'));
  expect(streamed.headers.filter(([n]) => n.toLowerCase() === 'content-length')).toEqual([
    ['Content-Length', '1000'],
  ]);
});

test('an app that writes no body still sends a complete head', async () => {
  const response = await scgiRequest(unix, requestVariables('GET', '/empty'));
  expect(response.raw.toString('latin1')).toBe('Status: 204 No Content\r\n\r\n');
});

test('a 404 from the app is passed on', async () => {
  const response = await scgiRequest(unix, requestVariables('GET', '/missing'));
  expect(response.status).toBe(404);
});

test('an app that throws gets a 500 without a stack trace, and the stack is logged', async () => {
  const response = await scgiRequest(unix, requestVariables('GET', '/error'));
  expect(response.status).toBe(500);
  expect(response.body.toString()).toBe('Internal Server Error\n');
  await waitForLog(daemon, (l) => l.msg === 'app failed' && JSON.stringify(l).includes('failed on purpose'));
});

test('an app failing after its head makes the response look incomplete', async () => {
  const raw = await exchange(unix, serializeScgiHeaders(requestVariables('GET', '/error-after-head'), 0));
  const response = parseCgiResponse(raw);
  expect(response.status).toBe(200);
  // Content-Length 1000 was declared; the connection closed after 12 bytes.
  expect(response.body.toString()).toBe('partial body');
});

test('text written to sluice.errors reaches the log', async () => {
  const response = await scgiRequest(unix, requestVariables('GET', '/errors'));
  expect(response.status).toBe(200);
  await waitForLog(daemon, (l) => String(l.appErrors ?? '').includes('probe wrote to sluice.errors'));
});

test('200 simultaneous connections with a slow app are all answered', async () => {
  const responses = await Promise.all(
    Array.from({ length: 200 }, () => scgiRequest(tcp, requestVariables('GET', '/slow?ms=300'))),
  );
  expect(responses.map((r) => r.status)).toEqual(Array(200).fill(200));
});

test('a 60 kB header value passes under the default limits', async () => {
  const value = 'v'.repeat(60_000);
  const response = await scgiRequest(unix, requestVariables('GET', '/env', [['HTTP_X_BIG', value]]));
  expect(response.status).toBe(200);
  expect(JSON.parse(response.body.toString()).HTTP_X_BIG).toBe(value);
});

describe('bad input gets a status, a log line and a closed connection; the daemon keeps serving', () => {
  const netstring = (block: string, end = ','): string =>
    `${Buffer.byteLength(block, 'latin1')}:${block}${end}`;
  test.each([
    ['a non-digit length', '1x:', 400, 'ERR_SCGI_BAD_LENGTH'],
    ['a leading zero', '012:', 400, 'ERR_SCGI_BAD_LENGTH'],
    ['an absurd length', '99999999999999:', 413, 'ERR_SCGI_HEADER_TOO_LARGE'],
    [
      'a missing comma',
      netstring('CONTENT_LENGTH\x000\x00REQUEST_METHOD\x00GET\x00', ';'),
      400,
      'ERR_SCGI_MISSING_COMMA',
    ],
    [
      'an odd field count',
      netstring('CONTENT_LENGTH\x000\x00REQUEST_METHOD\x00'),
      400,
      'ERR_SCGI_ODD_FIELDS',
    ],
    ['no CONTENT_LENGTH', netstring('REQUEST_METHOD\x00GET\x00'), 400, 'ERR_SCGI_CONTENT_LENGTH_MISSING'],
    [
      'CONTENT_LENGTH not first',
      netstring('REQUEST_METHOD\x00GET\x00CONTENT_LENGTH\x000\x00'),
      400,
      'ERR_SCGI_CONTENT_LENGTH_NOT_FIRST',
    ],
    ['no REQUEST_METHOD', netstring('CONTENT_LENGTH\x000\x00'), 400, 'ERR_CGI_NO_METHOD'],
    [
      'a repeated CONTENT_LENGTH',
      netstring('CONTENT_LENGTH\x000\x00REQUEST_METHOD\x00GET\x00CONTENT_LENGTH\x000\x00'),
      400,
      'ERR_SCGI_CONTENT_LENGTH_DUPLICATE',
    ],
  ])('%s', async (_name, bytes, status, code) => {
    const raw = await exchange(unix, Buffer.from(bytes, 'latin1'));
    expect(parseCgiResponse(raw).status).toBe(status);
    await waitForLog(daemon, (l) => l.code === code);
    expect((await scgiRequest(unix, requestVariables('GET', '/missing'))).status).toBe(404);
  });
});

test('a front end gone mid-body: the app sees the abort signal, the daemon survives', async () => {
  const socket = net.connect(netConnectOptions(unix));
  await new Promise((r) => socket.once('connect', r));
  socket.write(serializeScgiHeaders(requestVariables('POST', '/wait-abort'), 1000));
  socket.write(Buffer.alloc(100));
  await new Promise((r) => setTimeout(r, 100));
  socket.destroy();
  await waitForLog(daemon, (l) => l.probe === 'aborted');
  expect((await scgiRequest(unix, requestVariables('GET', '/missing'))).status).toBe(404);
});

test('a front end gone mid-response: the app stops, its generator is finished', async () => {
  const socket = net.connect(netConnectOptions(unix));
  socket.write(serializeScgiHeaders(requestVariables('GET', '/drip'), 0));
  await new Promise<void>((resolve) => socket.once('data', () => resolve()));
  socket.destroy();
  await waitForLog(daemon, (l) => l.probe === 'drip-finished' && l.aborted === true);
});

test('a front end gone while the app waits: the signal fires', async () => {
  const socket = net.connect(netConnectOptions(tcp));
  socket.write(serializeScgiHeaders(requestVariables('GET', '/wait-abort'), 0));
  await new Promise((r) => setTimeout(r, 100));
  const before = daemon.logLines().filter((l) => l.probe === 'aborted').length;
  socket.destroy();
  await waitForLog(daemon, () => daemon.logLines().filter((l) => l.probe === 'aborted').length > before);
});
