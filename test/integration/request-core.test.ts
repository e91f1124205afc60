// Every limit and timeout on every listener kind: the request core applies them, so each row must
// hold alike over SCGI, FastCGI and the --http listener (or say why the protocol cannot carry it).
import { Readable } from 'node:stream';
import { startDaemon, type Daemon } from '../helpers/daemon';
import { FastCgiClient, fcgiParams, fcgiRequest, until } from '../helpers/fastcgi';
import { request } from '../helpers/http';
import { exchange, parseCgiResponse, requestVariables, scgiRequest } from '../helpers/scgi';
import { pattern, sha256 } from '../helpers/bytes';
import { FCGI_KEEP_CONN, FCGI_RESPONDER } from '../../src/fastcgi/constants';
import { beginRequestRecord } from '../../src/fastcgi/writer';

const APP = 'test/fixtures/apps/probe.mjs';
const MAX_BODY = 1000;

type Kind = 'scgi' | 'fastcgi' | 'http';
const KINDS: readonly Kind[] = ['scgi', 'fastcgi', 'http'];

interface Sent {
  method?: string;
  path: string;
  body?: Buffer;
  /**
   * How the body's length is told: `declared` (CONTENT_LENGTH / Content-Length, the default),
   * `unknown` (FastCGI: an empty CONTENT_LENGTH as nginx sends for a chunked body; HTTP: chunked),
   * `minus-one` (FastCGI: CONTENT_LENGTH -1, as Caddy sends for a chunked upload).
   */
  length?: 'declared' | 'unknown' | 'minus-one';
}

interface Answer {
  status: number;
  body: Buffer;
}

let daemon: Daemon;

async function send(kind: Kind, sent: Sent): Promise<Answer> {
  const method = sent.method ?? (sent.body === undefined ? 'GET' : 'POST');
  const body = sent.body ?? Buffer.alloc(0);
  const length = sent.length ?? 'declared';
  if (kind === 'scgi') {
    const response = await scgiRequest(daemon.addresses.scgi![0], requestVariables(method, sent.path), body);
    return { status: response.status, body: response.body };
  }
  if (kind === 'fastcgi') {
    const declared = length === 'declared' ? String(body.length) : length === 'unknown' ? '' : '-1';
    const reply = await fcgiRequest(daemon.addresses.fastcgi![0], {
      params: fcgiParams(method, sent.path, [['CONTENT_LENGTH', declared]]),
      stdin: body,
      stdinMaxContent: 8192,
    });
    const response = reply.response();
    return { status: response.status, body: response.body };
  }
  const port = Number(daemon.addresses.http![0].split(':').pop());
  const response = await request({
    port,
    method,
    path: sent.path,
    // A Readable goes out chunked: the HTTP form of a body of unknown length.
    body: length === 'declared' ? body : Readable.from([body]),
  });
  return { status: response.status, body: response.body };
}

/** The daemon's counters; `active` includes the status request itself. */
async function counters(): Promise<{ active: number; requests: number }> {
  const answer = await send('fastcgi', { path: '/sluice-status' });
  return (JSON.parse(answer.body.toString()) as { totals: { active: number; requests: number } }).totals;
}

beforeAll(async () => {
  daemon = await startDaemon(APP, [
    ...['--scgi', '127.0.0.1:0', '--fastcgi', '127.0.0.1:0', '--http', '127.0.0.1:0'],
    ...['--max-body-bytes', String(MAX_BODY), '--max-concurrent', '1'],
    ...['--request-timeout', '1500', '--header-timeout', '1500'],
    ...['--status-path', '/sluice-status', '--ping-path', '/ping', '--workers', '0'],
  ]);
}, 30_000);

afterAll(async () => {
  expect(await daemon.stop()).toBe(0);
});

describe.each(KINDS)('%s', (kind) => {
  test('a body at --max-body-bytes is served', async () => {
    const body = pattern(MAX_BODY);
    const answer = await send(kind, { path: '/hash', body });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body.toString())).toMatchObject({ bytes: MAX_BODY, sha256: sha256(body) });
  });

  test('a declared length over --max-body-bytes: 413 before the app runs', async () => {
    const answer = await send(kind, { path: '/hash', body: pattern(MAX_BODY + 1) });
    expect(answer.status).toBe(413);
  });

  test('--max-concurrent: 503 while the slot is taken; the ping and status paths still answer', async () => {
    const slow = send(kind, { path: '/slow?ms=1200' });
    // The status path bypasses admission too: it tells when the slow request holds the slot.
    let active = 0;
    const deadline = Date.now() + 5000;
    while (active < 2 && Date.now() < deadline) active = (await counters()).active;
    expect(active).toBe(2);
    expect((await send(kind, { path: '/env' })).status).toBe(503);
    expect((await send(kind, { path: '/ping' })).status).toBe(200);
    expect((await send(kind, { path: '/sluice-status' })).status).toBe(200);
    expect((await slow).status).toBe(200);
    expect((await send(kind, { path: '/env' })).status).toBe(200);
  });

  test('--request-timeout: 504, and the app sees its signal abort', async () => {
    const before = daemon.logLines().filter((l) => l.probe === 'aborted').length;
    expect((await send(kind, { path: '/wait-abort' })).status).toBe(504);
    await until(
      () => daemon.logLines().filter((l) => l.probe === 'aborted').length > before,
      5000,
      () => 'the app never saw its abort signal',
    );
  });
});

// SCGI cannot carry a body of unknown length: its spec requires CONTENT_LENGTH (see below).
describe.each(['fastcgi', 'http'] as const)('%s, a body of unknown length', (kind) => {
  test('going over --max-body-bytes mid-stream: 413, the rest discarded', async () => {
    const answer = await send(kind, { path: '/hash', body: pattern(100_000), length: 'unknown' });
    expect(answer.status).toBe(413);
    expect(daemon.logs()).toContain('ERR_BODY_TOO_LARGE');
  });

  test('within the limit: read to its end', async () => {
    const body = pattern(700);
    const answer = await send(kind, { path: '/hash', body, length: 'unknown' });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body.toString())).toMatchObject({
      bytes: 700,
      sha256: sha256(body),
      contentLength: null,
    });
  });
});

test('scgi: a request without CONTENT_LENGTH is a 400 (the spec requires it)', async () => {
  const block = 'REQUEST_METHOD\0POST\0SCGI\x001\0';
  const raw = await exchange(daemon.addresses.scgi![0], Buffer.from(`${block.length}:${block},0123`));
  expect(parseCgiResponse(raw).status).toBe(400);
});

describe('--header-timeout: 408 once the headers stall', () => {
  test('scgi', async () => {
    const raw = await exchange(daemon.addresses.scgi![0], Buffer.from('70:CONTENT_LENGTH\0'), 10_000);
    expect(parseCgiResponse(raw).status).toBe(408);
  });

  test('fastcgi', async () => {
    const client = await FastCgiClient.connect(daemon.addresses.fastcgi![0]);
    try {
      await client.send(beginRequestRecord(1, FCGI_RESPONDER, FCGI_KEEP_CONN));
      expect((await client.waitEnd(1, 10_000)).response().status).toBe(408);
    } finally {
      client.destroy();
    }
  });

  test('http', async () => {
    const port = Number(daemon.addresses.http![0].split(':').pop());
    const raw = await exchange(`127.0.0.1:${port}`, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n'), 10_000);
    expect(raw.toString('latin1')).toMatch(/^HTTP\/1\.1 408 /);
  });
});

// Regression tests named after what the request core fixed.
test('FastCGI: an empty CONTENT_LENGTH with 100,000 bytes of STDIN over --max-body-bytes 1000 gets 413, not 200', async () => {
  const answer = await send('fastcgi', { path: '/hash', body: pattern(100_000), length: 'unknown' });
  expect(answer.status).toBe(413);
});

test("FastCGI: Caddy's CONTENT_LENGTH=-1 is a body of unknown length, not a 400", async () => {
  const body = pattern(900);
  const answer = await send('fastcgi', { path: '/hash', body, length: 'minus-one' });
  expect(answer.status).toBe(200);
  expect(JSON.parse(answer.body.toString())).toMatchObject({ bytes: 900, contentLength: null });
});

test('the --http listener applies --max-body-bytes, --max-concurrent and --request-timeout', async () => {
  expect((await send('http', { path: '/hash', body: pattern(MAX_BODY + 1) })).status).toBe(413);
  expect((await send('http', { path: '/wait-abort' })).status).toBe(504);
  const slow = send('http', { path: '/slow?ms=1200' });
  let active = 0;
  const deadline = Date.now() + 5000;
  while (active < 2 && Date.now() < deadline) active = (await counters()).active;
  expect((await send('http', { path: '/env' })).status).toBe(503);
  expect((await slow).status).toBe(200);
});
