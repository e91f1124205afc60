// --static on the HTTP listener: send's conditional, range and HEAD answers, index.html, types, every
// way out of the directory refused, the requests counted and logged; SCGI never serves a file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serve, type Server } from '../../src/index';
import type { App } from '../../src/gateway/types';
import { until } from '../helpers/fastcgi';
import { request, type HttpResponse } from '../helpers/http';
import { requestVariables, scgiRequest } from '../helpers/scgi';
import { usageErrorCode } from '../helpers/usage';

const app: App = (environ, start) => {
  start('200 OK', [['Content-Type', 'text/plain']]);
  return `app ${environ.PATH_INFO}\n`;
};

const CSS = 'body { color: teal }\n';
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz';

let base: string;
let publicDir: string;
let accessLog: string;
let server: Server;
let http: number;
let scgi: string;

beforeAll(async () => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-static-'));
  publicDir = path.join(base, 'public');
  fs.mkdirSync(path.join(publicDir, 'docs', 'guide'), { recursive: true });
  fs.mkdirSync(path.join(publicDir, 'linked'));
  fs.mkdirSync(path.join(publicDir, 'img'));
  fs.writeFileSync(path.join(publicDir, 'site.css'), CSS);
  fs.writeFileSync(path.join(publicDir, 'letters.txt'), ALPHABET);
  fs.writeFileSync(path.join(publicDir, 'data.json'), '{}');
  fs.writeFileSync(path.join(publicDir, 'index.html'), '<h1>home</h1>');
  fs.writeFileSync(path.join(publicDir, 'docs', 'guide', 'index.html'), '<h1>guide</h1>');
  fs.writeFileSync(path.join(publicDir, '.env'), 'SECRET=1');
  fs.writeFileSync(path.join(base, 'secret.txt'), 'outside');
  // Links out of the directory, to a file and to a directory holding an index.html; one link inside.
  fs.symlinkSync(path.join(base, 'secret.txt'), path.join(publicDir, 'escape.txt'));
  fs.mkdirSync(path.join(base, 'elsewhere'));
  fs.writeFileSync(path.join(base, 'elsewhere', 'index.html'), 'outside');
  fs.symlinkSync(path.join(base, 'elsewhere'), path.join(publicDir, 'away'));
  fs.symlinkSync(path.join(base, 'secret.txt'), path.join(publicDir, 'linked', 'index.html'));
  fs.symlinkSync(path.join(publicDir, 'site.css'), path.join(publicDir, 'alias.css'));
  accessLog = path.join(base, 'access.log');
  server = await serve(app, {
    http: ['127.0.0.1:0'],
    scgi: ['127.0.0.1:0'],
    static: [`/static=${publicDir}`, `/static/docs=${path.join(publicDir, 'docs', 'guide')}`],
    accessLog,
    pingPath: '/static/ping',
  });
  http = server.addresses.find((a) => a.protocol === 'http')!.port!;
  scgi = server.addresses.find((a) => a.protocol === 'scgi')!.address;
});

afterAll(async () => {
  await server?.close(0);
  fs.rmSync(base, { recursive: true, force: true });
});

const get = (target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<HttpResponse> =>
  request({ port: http, path: target, headers, method });

describe('files', () => {
  test.each([
    ['/static/site.css', 'text/css; charset=utf-8', CSS],
    ['/static/letters.txt', 'text/plain; charset=utf-8', ALPHABET],
    ['/static/data.json', 'application/json; charset=utf-8', '{}'],
    ['/static/alias.css', 'text/css; charset=utf-8', CSS],
    ['/static/', 'text/html; charset=utf-8', '<h1>home</h1>'],
    ['/static/docs/', 'text/html; charset=utf-8', '<h1>guide</h1>'],
  ])('%s: 200 with its type, length, ETag and Last-Modified', async (target, type, body) => {
    const response = await get(target);
    expect([response.status, response.headers['content-type'], response.body.toString()]).toEqual([
      200,
      type,
      body,
    ]);
    expect(response.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(response.headers.etag).toMatch(/^W\/"/);
    expect(Date.parse(response.headers['last-modified']!)).not.toBeNaN();
    expect(response.headers['accept-ranges']).toBe('bytes');
  });

  test('the longest prefix wins', async () => {
    // /static/docs maps to docs/guide, not to public/docs.
    expect((await get('/static/docs/index.html')).body.toString()).toBe('<h1>guide</h1>');
  });

  test('a directory without its slash is redirected under the whole URL, query kept', async () => {
    const response = await get('/static?v=1');
    expect([response.status, response.headers.location]).toEqual([301, '/static/?v=1']);
    const nested = await get('/static/img');
    expect([nested.status, nested.headers.location]).toEqual([301, '/static/img/']);
    // No index.html and no listing: 404.
    expect((await get('/static/img/')).status).toBe(404);
  });

  test('HEAD: the headers of GET, no body', async () => {
    const response = await get('/static/site.css', {}, 'HEAD');
    expect([response.status, response.headers['content-length'], response.body.length]).toEqual([
      200,
      String(CSS.length),
      0,
    ]);
  });

  test('If-None-Match and If-Modified-Since: 304 without a body', async () => {
    const first = await get('/static/site.css');
    const byTag = await get('/static/site.css', { 'If-None-Match': first.headers.etag! });
    expect([byTag.status, byTag.body.length]).toEqual([304, 0]);
    const byDate = await get('/static/site.css', { 'If-Modified-Since': first.headers['last-modified']! });
    expect(byDate.status).toBe(304);
    const stale = await get('/static/site.css', { 'If-None-Match': '"other"' });
    expect(stale.status).toBe(200);
  });

  test('Range: 206 with Content-Range; past the end: 416', async () => {
    const part = await get('/static/letters.txt', { Range: 'bytes=2-5' });
    expect([part.status, part.headers['content-range'], part.body.toString()]).toEqual([
      206,
      'bytes 2-5/26',
      'cdef',
    ]);
    const tail = await get('/static/letters.txt', { Range: 'bytes=-3' });
    expect(tail.body.toString()).toBe('xyz');
    const beyond = await get('/static/letters.txt', { Range: 'bytes=100-200' });
    expect([beyond.status, beyond.headers['content-range']]).toEqual([416, 'bytes */26']);
  });

  test('a missing file is 404 under the prefix; paths outside any prefix go to the app', async () => {
    expect((await get('/static/nothing.css')).status).toBe(404);
    const other = await get('/staticky/site.css');
    expect([other.status, other.body.toString()]).toEqual([200, 'app /staticky/site.css\n']);
  });

  test('another method than GET or HEAD: 405, the app not run', async () => {
    const response = await request({ port: http, path: '/static/site.css', method: 'POST', body: 'x=1' });
    expect([response.status, response.headers.allow]).toEqual([405, 'GET, HEAD']);
  });

  test('the ping path stays the daemon’s under a static prefix', async () => {
    expect((await get('/static/ping')).body.toString()).toBe('pong\n');
  });
});

describe('nothing outside the directory', () => {
  test.each([
    ['/static/../secret.txt', 403],
    ['/static/%2e%2e/secret.txt', 403],
    ['/static/%2E%2E%2Fsecret.txt', 403],
    ['/static/..%2fsecret.txt', 403],
    ['/static/docs/..%2f..%2f..%2fsecret.txt', 403],
    ['/static/%00site.css', 400],
    ['/static/%E0%A4%A', 400],
    ['/static/.env', 404],
    ['/static/escape.txt', 403],
    ['/static/away/', 403],
    ['/static/away/index.html', 403],
    ['/static/linked/', 403],
  ])('%s: %i', async (target, status) => {
    const response = await get(target);
    expect(response.status).toBe(status);
    expect(response.body.toString()).not.toContain('outside');
    expect(response.body.toString()).not.toContain('SECRET');
  });
});

test('SCGI never serves the files: the app answers', async () => {
  const response = await scgiRequest(scgi, requestVariables('GET', '/static/site.css'));
  expect(response.body.toString()).toBe('app /static/site.css\n');
});

test('static requests are counted and written to the access log like the app’s', async () => {
  const before = (await server.status()).totals.requests;
  await get('/static/letters.txt?counted');
  await get('/static/missing?counted');
  await until(
    () => fs.existsSync(accessLog) && fs.readFileSync(accessLog, 'utf8').includes('/static/missing?counted'),
    5000,
    () => 'the access log has no line for the static requests',
  );
  const lines = fs
    .readFileSync(accessLog, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { uri: string; status: number; bytes: number });
  expect(lines.find((l) => l.uri === '/static/letters.txt?counted')).toMatchObject({
    status: 200,
    bytes: 26,
  });
  expect(lines.find((l) => l.uri === '/static/missing?counted')).toMatchObject({ status: 404 });
  let after = (await server.status()).totals.requests;
  for (const deadline = Date.now() + 5000; after < before + 2 && Date.now() < deadline;)
    after = (await server.status()).totals.requests;
  expect(after).toBe(before + 2);
});

describe('at start', () => {
  test('a missing directory: ERR_USAGE_STATIC before anything is bound', async () => {
    const missing = path.join(base, 'no-such-dir');
    expect(await usageErrorCode(serve(app, { http: ['127.0.0.1:0'], static: [`/s=${missing}`] }))).toBe(
      'ERR_USAGE_STATIC',
    );
  });

  test('a file where a directory is wanted: ERR_USAGE_STATIC', async () => {
    const file = path.join(publicDir, 'site.css');
    expect(await usageErrorCode(serve(app, { http: ['127.0.0.1:0'], static: [`/s=${file}`] }))).toBe(
      'ERR_USAGE_STATIC',
    );
  });

  test('a value that is not PREFIX=DIR: ERR_EMBEDDED_VALUE', async () => {
    for (const bad of ['static', 'static=dir', '/static=']) {
      expect(await usageErrorCode(serve(app, { http: ['127.0.0.1:0'], static: [bad] }))).toBe(
        'ERR_EMBEDDED_VALUE',
      );
    }
  });
});
