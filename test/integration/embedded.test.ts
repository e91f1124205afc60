// serve() in a program: the app given as a value, served in the jest process on a Unix FastCGI socket,
// a TCP SCGI port and the HTTP listener; close() drains; no signal handlers, no exit, the caller's logger.
import fs from 'node:fs';
import express from 'express';
import { Hono } from 'hono';
import { compose, nodeApp, requestId, serve, urlMap, type Server, type ServerOptions } from '../../src/index';
import type { App } from '../../src/gateway/types';
import { tempSocketPath } from '../helpers/daemon';
import { fcgiParams, FastCgiClient, fcgiRequest, until } from '../helpers/fastcgi';
import { deferred, recordingLogger } from '../helpers/gateway';
import { request } from '../helpers/http';
import { requestVariables, scgiRequest } from '../helpers/scgi';
import { usageErrorCode } from '../helpers/usage';

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR2'] as const;

const gateway: App = (environ, start) => {
  start('200 OK', [['Content-Type', 'text/plain']]);
  return [`gateway ${environ.REQUEST_METHOD} ${environ.PATH_INFO}\n`];
};

const expressApp = express();
expressApp.get('/hello', (req, res) => void res.type('text/plain').send(`express ${req.path}\n`));

const honoApp = new Hono();
honoApp.get('/hello', (c) => c.text(`hono ${new URL(c.req.url).pathname}\n`));

let servers: Server[] = [];
let exit: jest.SpyInstance;

beforeEach(() => {
  exit = jest.spyOn(process, 'exit').mockImplementation((code) => {
    throw new Error(`process.exit(${code}) called`);
  });
});

afterEach(async () => {
  await Promise.all(servers.map((s) => s.close(0)));
  servers = [];
  expect(exit).not.toHaveBeenCalled();
  exit.mockRestore();
});

async function start(app: Parameters<typeof serve>[0], options: ServerOptions): Promise<Server> {
  const server = await serve(app, options);
  servers.push(server);
  return server;
}

/** One server with all three listeners: FastCGI on a Unix socket, SCGI on 127.0.0.1:0, HTTP on 127.0.0.1:0. */
async function startAll(app: Parameters<typeof serve>[0], options: ServerOptions = {}) {
  const socket = tempSocketPath('embedded.sock');
  const server = await start(app, {
    fastcgi: [`unix:${socket}`],
    scgi: ['127.0.0.1:0'],
    http: ['127.0.0.1:0'],
    ...options,
  });
  const [scgi, fastcgi, http] = server.addresses;
  return { server, socket, scgi, fastcgi, http };
}

describe.each([
  ['a gateway app', gateway as Parameters<typeof serve>[0], '/x/hello', 'gateway GET /x/hello\n'],
  ['an Express app', expressApp, '/hello', 'express /hello\n'],
  ['a Hono (fetch) app', honoApp, '/hello', 'hono /hello\n'],
])('%s', (_kind, app, path, answer) => {
  test('answers on FastCGI (Unix socket), SCGI (TCP port 0) and HTTP', async () => {
    const { socket, scgi, fastcgi, http } = await startAll(app);
    expect(fastcgi).toEqual({ protocol: 'fastcgi', address: `unix:${socket}`, path: socket });
    expect(scgi.protocol).toBe('scgi');
    expect(scgi.port).toBeGreaterThan(0);
    expect(scgi.address).toBe(`127.0.0.1:${scgi.port}`);
    expect(http.port).toBeGreaterThan(0);

    const viaFastCgi = (await fcgiRequest(fastcgi.address, { params: fcgiParams('GET', path) })).response();
    expect([viaFastCgi.status, viaFastCgi.body.toString()]).toEqual([200, answer]);
    const viaScgi = await scgiRequest(scgi.address, requestVariables('GET', path));
    expect([viaScgi.status, viaScgi.body.toString()]).toEqual([200, answer]);
    const viaHttp = await request({ port: http.port!, path });
    expect([viaHttp.status, viaHttp.body.toString()]).toEqual([200, answer]);
  });
});

test('status() gives the counters as the status path does', async () => {
  const { server, http } = await startAll(gateway, { statusPath: '/status' });
  await request({ port: http.port!, path: '/one' });
  await request({ port: http.port!, path: '/two' });
  // A request is counted as it ends, which may be just after the client had the response.
  let status = await server.status();
  for (const deadline = Date.now() + 5000; status.totals.requests < 2 && Date.now() < deadline;)
    status = await server.status();
  expect(status.mode).toBe('single');
  expect(status.pid).toBe(process.pid);
  expect(status.totals.requests).toBe(2);
  expect(status.listeners.map((l) => l.address)).toEqual(server.addresses.map((a) => a.address));
  const viaPath = JSON.parse((await request({ port: http.port!, path: '/status' })).body.toString());
  expect(viaPath.totals.requests).toBe(2);
  expect(Object.keys(viaPath).sort()).toEqual(Object.keys(status).sort());
});

/** Whether a connection to `address` is refused before `ms` have passed; those accepted meanwhile are closed. */
async function refusedWithin(address: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      (await FastCgiClient.connect(address, 1000)).destroy();
    } catch {
      return true;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  return false;
}

test('close() lets a request in flight finish, then refuses connections and removes the socket file', async () => {
  const release = deferred<void>();
  let started = 0;
  const slow: App = async (_environ, start) => {
    started++;
    await release.promise;
    start('200 OK', [['Content-Type', 'text/plain']]);
    return ['finished\n'];
  };
  const { server, socket, fastcgi } = await startAll(slow);
  const client = await FastCgiClient.connect(fastcgi.address);
  await client.begin(1, { params: fcgiParams('GET', '/slow') });
  await until(
    () => started === 1,
    5000,
    () => 'the app to start',
  );

  let closed = false;
  const first = server.close(10_000);
  const closing = first.then(() => (closed = true));
  // The listeners close within a few turns of the event loop, once the socket file is gone and
  // what they had queued is accepted: then a new connection is refused while the one in flight is
  // still served.
  expect(await refusedWithin(fastcgi.address, 5000)).toBe(true);
  expect(fs.existsSync(socket)).toBe(false);
  expect(closed).toBe(false);
  release.resolve();
  const reply = await client.waitEnd(1);
  expect(reply.response().body.toString()).toBe('finished\n');
  await closing;
  expect(fs.existsSync(socket)).toBe(false);
  expect(server.close()).toBe(first);
});

test('installs no signal handlers and never exits the process', async () => {
  const before = SIGNALS.map((signal) => process.listenerCount(signal));
  const { server, http } = await startAll(gateway);
  expect((await request({ port: http.port!, path: '/' })).status).toBe(200);
  expect(SIGNALS.map((signal) => process.listenerCount(signal))).toEqual(before);
  await server.close();
  expect(SIGNALS.map((signal) => process.listenerCount(signal))).toEqual(before);
});

test('logs to the logger passed in, and to nothing without one', async () => {
  const { log, lines } = recordingLogger();
  const { server } = await startAll(gateway, { logger: log });
  await server.close();
  const messages = lines.map((l) => l.msg);
  expect(messages).toContain('app recognized as gateway');
  expect(lines.filter((l) => l.msg === 'listening').map((l) => l.protocol)).toEqual([
    'scgi',
    'fastcgi',
    'http',
  ]);
  expect(messages.slice(-3)).toEqual(['stopping', 'socket file removed', 'stopped']);
});

test('the limits of the settings apply: maxBodyBytes answers 413', async () => {
  const echo: App = async (environ, start) => {
    const chunks: Buffer[] = [];
    for await (const chunk of environ['sluice.input']) chunks.push(Buffer.from(chunk));
    start('200 OK', [['Content-Type', 'text/plain']]);
    return [`${Buffer.concat(chunks).length}\n`];
  };
  const { http, fastcgi } = await startAll(echo, { maxBodyBytes: 1000 });
  const small = await request({ port: http.port!, method: 'POST', path: '/', body: Buffer.alloc(1000) });
  expect([small.status, small.body.toString()]).toEqual([200, '1000\n']);
  const large = await request({ port: http.port!, method: 'POST', path: '/', body: Buffer.alloc(1001) });
  expect(large.status).toBe(413);
  const viaFastCgi = await fcgiRequest(fastcgi.address, {
    params: fcgiParams('POST', '/', [['CONTENT_LENGTH', '5000']]),
    stdin: Buffer.alloc(5000),
  });
  expect(viaFastCgi.response().status).toBe(413);
});

describe('refused options, before anything is bound', () => {
  test.each([
    ['workers', { workers: 2 }, 'ERR_EMBEDDED_DAEMON_ONLY'],
    ['user', { user: 'nobody' }, 'ERR_EMBEDDED_DAEMON_ONLY'],
    ['group', { group: 'nogroup' }, 'ERR_EMBEDDED_DAEMON_ONLY'],
    ['pidFile', { pidFile: '/tmp/sluice.pid' }, 'ERR_EMBEDDED_DAEMON_ONLY'],
    ['watch', { watch: true }, 'ERR_EMBEDDED_DAEMON_ONLY'],
    ['maxRequests', { maxRequests: 100 }, 'ERR_EMBEDDED_DAEMON_ONLY'],
    ['logLevel', { logLevel: 'debug' }, 'ERR_EMBEDDED_DAEMON_ONLY'],
    ['an unknown key', { maxBodyByte: 10 }, 'ERR_EMBEDDED_KEY'],
    ['app as an option', { app: 'app.mjs' }, 'ERR_EMBEDDED_KEY'],
    ['a negative limit', { maxBodyBytes: -1 }, 'ERR_EMBEDDED_VALUE'],
    ['a bad address', { scgi: ['nowhere'] }, 'ERR_EMBEDDED_VALUE'],
    ['a logger that is no pino logger', { logger: {} }, 'ERR_EMBEDDED_VALUE'],
    ['settings that are no object', { settings: 'x' }, 'ERR_EMBEDDED_VALUE'],
    ['no listener', { http: [] }, 'ERR_USAGE_NO_LISTENER'],
  ])('%s', async (_what, extra, code) => {
    const socket = tempSocketPath('refused.sock');
    const options = { fastcgi: [`unix:${socket}`], ...extra } as unknown as ServerOptions;
    if ('http' in extra) delete (options as { fastcgi?: unknown }).fastcgi;
    expect(await usageErrorCode(serve(gateway, options))).toBe(code);
    expect(fs.existsSync(socket)).toBe(false);
  });

  test('a value that is no app', async () => {
    const socket = tempSocketPath('refused.sock');
    const options: ServerOptions = { fastcgi: [`unix:${socket}`] };
    expect(await usageErrorCode(serve(42 as never, options))).toBe('ERR_APP_NOT_FUNCTION');
    expect(fs.existsSync(socket)).toBe(false);
  });
});

test('typed values: socketMode as a number, maxBodyBytes null for no limit', async () => {
  const { socket } = await startAll(gateway, { socketMode: 0o600, maxBodyBytes: null });
  expect(fs.statSync(socket).mode & 0o777).toBe(0o600);
});

test("a config file's composition in code: settings as an option, compose() and urlMap() for middleware and apps", async () => {
  const site: App = (environ, start) => {
    start('200 OK', [['Content-Type', 'text/plain']]);
    return [`site ${JSON.stringify(environ['sluice.settings'])} ${environ.PATH_INFO}\n`];
  };
  const app = compose(
    urlMap([
      { prefix: '/', app: site },
      { prefix: '/api', app: nodeApp(expressApp) },
    ]),
    requestId(),
  );
  const { http } = await startAll(app, { settings: { greeting: 'hi' } });
  const api = await request({ port: http.port!, path: '/api/hello' });
  expect(api.body.toString()).toBe('express /hello\n');
  expect(api.headers['x-request-id']).toBeDefined();
  const root = await request({ port: http.port!, path: '/page' });
  expect(root.body.toString()).toBe('site {"greeting":"hi"} /page\n');
});
