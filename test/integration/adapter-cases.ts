// The cases every framework fixture (test/fixtures/apps/frameworks/*) must pass, over raw SCGI, raw
// FastCGI and nginx: routing, JSON bodies, cookies, redirects, streaming, downloads, errors, aborts.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { netConnectOptions } from '../../src/client/connect';
import { serializeScgiHeaders } from '../../src/scgi/serializer';
import { startDaemon, tempSocketPath, type Daemon } from '../helpers/daemon';
import { FastCgiClient } from '../helpers/fastcgi';
import { requireBinary, startFrontEnd, type FrontEnd } from '../helpers/frontends';
import { request as httpRequest, requestAndAbort } from '../helpers/http';
import { requestVariables, scgiRequest, type CgiResponse } from '../helpers/scgi';
import { waitForLog } from './interop-cases';

export const DOWNLOAD = fs.readFileSync(
  path.join(__dirname, '..', 'fixtures', 'apps', 'frameworks', 'download.txt'),
);

/** A response as any of the three ways of asking sees it: header names lower-cased, values listed. */
export interface Reply {
  status: number;
  headers: Record<string, string[]>;
  body: Buffer;
}

export interface Ask {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** More CGI variables, as a front end adds them (raw SCGI and FastCGI only). */
  vars?: Record<string, string>;
}

/** One way of reaching the daemon: raw SCGI, raw FastCGI, or HTTP through nginx. */
export interface Way {
  readonly name: string;
  request(ask: Ask): Promise<Reply>;
  /** Starts the request, reads at least `bytes` of the response, then goes away. */
  abortAfter(path: string, bytes: number): Promise<void>;
}

/** CGI variables for a request, as nginx's params would send them. */
function variables(ask: Ask): Array<[string, string]> {
  const extra: Array<[string, string]> = [['REMOTE_PORT', '40000']];
  for (const [name, value] of Object.entries(ask.headers ?? {})) {
    const cgi = name.toUpperCase().replace(/-/g, '_');
    extra.push([cgi === 'CONTENT_TYPE' ? cgi : 'HTTP_' + cgi, value]);
  }
  if (ask.body !== undefined) extra.push(['CONTENT_LENGTH', String(ask.body.length)]);
  const overrides = ask.vars ?? {};
  return [
    ...requestVariables(ask.method ?? 'GET', ask.path, extra).filter(([name]) => !(name in overrides)),
    ...Object.entries(overrides),
  ];
}

function fromCgi(response: CgiResponse): Reply {
  const headers: Record<string, string[]> = {};
  for (const [name, value] of response.headers) (headers[name.toLowerCase()] ??= []).push(value);
  return { status: response.status, headers, body: response.body };
}

export function scgiWay(address: () => string): Way {
  return {
    name: 'raw SCGI',
    request: async (ask) => fromCgi(await scgiRequest(address(), variables(ask), ask.body)),
    abortAfter: (uri, bytes) =>
      new Promise((resolve, reject) => {
        const socket = net.connect(netConnectOptions(address()));
        let received = 0;
        socket.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received >= bytes) {
            socket.destroy();
            resolve();
          }
        });
        socket.on('error', reject);
        socket.write(serializeScgiHeaders(variables({ path: uri }), 0));
      }),
  };
}

export function fastCgiWay(address: () => string): Way {
  return {
    name: 'raw FastCGI',
    async request(ask) {
      const client = await FastCgiClient.connect(address());
      try {
        const reply = await client.request(1, { params: variables(ask), stdin: ask.body, keepConn: false });
        return fromCgi(reply.response());
      } finally {
        client.destroy();
      }
    },
    async abortAfter(uri, bytes) {
      const client = await FastCgiClient.connect(address());
      await client.begin(1, { params: variables({ path: uri }) });
      await client.waitFor(() => client.reply(1).stdout.length >= bytes, 10_000, `${bytes} bytes of ${uri}`);
      // nginx never sends FCGI_ABORT_REQUEST: it closes the connection, as this does.
      client.destroy();
    },
  };
}

export function nginxWay(frontEnd: () => FrontEnd): Way {
  return {
    name: 'nginx',
    async request(ask) {
      const response = await httpRequest({
        port: frontEnd().port,
        method: ask.method,
        path: ask.path,
        headers: ask.headers,
        body: ask.body,
      });
      const headers: Record<string, string[]> = {};
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value : [value];
      }
      return { status: response.status, headers, body: response.body };
    },
    async abortAfter(uri, bytes) {
      await requestAndAbort({ port: frontEnd().port, path: uri, abortAfterBytes: bytes });
    },
  };
}

export interface FrameworkSuite {
  daemon(): Daemon;
  /** nginx, when installed. */
  frontEnd(): FrontEnd | undefined;
  /** The ways available here: nginx only when installed (always under CI=true, or the file fails). */
  ways: Way[];
}

/**
 * Starts the daemon with `app` on an SCGI and a FastCGI Unix socket, and nginx (the shipped FastCGI
 * config) in front of the latter; registers the shared cases for each way of asking.
 */
export function frameworkSuite(framework: string, app: string): FrameworkSuite {
  let daemon: Daemon;
  let nginx: FrontEnd | undefined;
  const withNginx = requireBinary('nginx');

  beforeAll(async () => {
    daemon = await startDaemon(app, [
      '--scgi',
      'unix:' + tempSocketPath('scgi.sock'),
      '--fastcgi',
      'unix:' + tempSocketPath('fastcgi.sock'),
      '--socket-mode',
      '0666',
    ]);
    if (withNginx) {
      nginx = await startFrontEnd('nginx', 'deploy/nginx/sluice-fastcgi.conf', {
        fastcgi: daemon.addresses.fastcgi![0],
      });
    }
  }, 60_000);

  afterAll(async () => {
    await nginx?.stop();
    if (daemon) expect(await daemon.stop()).toBe(0);
  });

  const ways = [
    scgiWay(() => daemon.addresses.scgi![0]),
    fastCgiWay(() => daemon.addresses.fastcgi![0]),
    ...(withNginx ? [nginxWay(() => nginx!)] : []),
  ];

  describe.each(ways.map((way) => [way.name, way] as const))('%s', (_name, way) => {
    test('routing: a route answers, an unknown path is 404', async () => {
      const hello = await way.request({ path: '/hello' });
      expect(hello.status).toBe(200);
      expect(hello.body.toString()).toBe(`Hello from ${framework}`);
      expect((await way.request({ path: '/no/such/route' })).status).toBe(404);
    });

    test('a JSON body is parsed and answered as JSON', async () => {
      const reply = await way.request({
        method: 'POST',
        path: '/json',
        headers: { 'Content-Type': 'application/json' },
        body: Buffer.from(JSON.stringify({ a: 1, list: ['x', 'ü'] })),
      });
      expect(reply.status).toBe(200);
      expect(reply.headers['content-type']?.[0]).toMatch(/^application\/json/);
      expect(JSON.parse(reply.body.toString())).toEqual({ received: { a: 1, list: ['x', 'ü'] }, framework });
    });

    test('cookies: the request cookie is read, two Set-Cookie headers come back', async () => {
      const reply = await way.request({ path: '/cookies', headers: { Cookie: 'x=1; y=2' } });
      expect(reply.status).toBe(200);
      expect(reply.body.toString()).toBe('seen x=1; y=2');
      const cookies = reply.headers['set-cookie'] ?? [];
      expect(cookies).toHaveLength(2);
      expect(cookies[0]).toMatch(/^a=1/);
      expect(cookies[1]).toMatch(/^b=2.*HttpOnly/i);
    });

    test('a redirect is a 302 with its Location', async () => {
      const reply = await way.request({ path: '/redirect' });
      expect(reply.status).toBe(302);
      expect(reply.headers.location?.[0]).toMatch(/\/hello$/);
    });

    test('a streamed response arrives whole, in order', async () => {
      const reply = await way.request({ path: '/stream' });
      expect(reply.status).toBe(200);
      expect(reply.body.toString()).toBe([0, 1, 2, 3, 4].map((i) => `chunk ${i}\n`).join(''));
    });

    test('a file download: attachment, every byte', async () => {
      const reply = await way.request({ path: '/download' });
      expect(reply.status).toBe(200);
      expect(reply.headers['content-disposition']?.[0]).toMatch(/^attachment; filename="?download.txt"?$/);
      expect(reply.body.equals(DOWNLOAD)).toBe(true);
    });

    test('a handler error is a 500, and the daemon keeps serving', async () => {
      expect((await way.request({ path: '/error' })).status).toBe(500);
      expect((await way.request({ path: '/hello' })).status).toBe(200);
    });

    test('a client that goes away mid-response closes the response in the app', async () => {
      const closed = (l: Record<string, unknown>): boolean =>
        l.probe === 'drip-closed' && l.finished === false;
      const before = daemon.logLines().filter(closed).length;
      await way.abortAfter('/drip', 4096);
      await waitForLog(daemon, () => daemon.logLines().filter(closed).length > before, 15_000);
    });
  });

  return { daemon: () => daemon, frontEnd: () => nginx, ways };
}
