// FastCGI through real front ends started from the shipped configs: nginx (with and without keepalive),
// Apache mod_proxy_fcgi (with and without enablereuse), lighttpd mod_fastcgi and HAProxy fcgi-app.
import http from 'node:http';
import { until } from '../helpers/fastcgi';
import { patternStream, request, requestAndAbort } from '../helpers/http';
import { interopSuite, waitForLog, type InteropTarget } from './interop-cases';

const TARGETS: InteropTarget[] = [
  { label: 'nginx keepalive', name: 'nginx', file: 'deploy/nginx/sluice-fastcgi.conf', via: 'unix' },
  {
    label: 'nginx one connection per request',
    name: 'nginx',
    file: 'deploy/nginx/sluice-fastcgi-simple.conf',
    via: 'tcp',
  },
  { label: 'apache enablereuse', name: 'apache', file: 'deploy/apache/sluice-fastcgi.conf', via: 'unix' },
  {
    label: 'apache one connection per request',
    name: 'apache',
    file: 'deploy/apache/sluice-fastcgi-simple.conf',
    via: 'tcp',
  },
  { label: 'lighttpd', name: 'lighttpd', file: 'deploy/lighttpd/sluice-fastcgi.conf', via: 'unix' },
  {
    label: 'haproxy',
    name: 'haproxy',
    file: 'deploy/haproxy/sluice-fastcgi.cfg',
    via: 'tcp',
    chunkedUploads: 'refused',
  },
];
// The ping path the shipped HAProxy config's health checks ask for.
const suite = interopSuite('fastcgi', TARGETS, ['--log-level', 'debug', '--ping-path', '/sluice-ping']);
const available = suite.available;
const frontEnd = suite.frontEnd;
const daemonLines = (): Array<Record<string, unknown>> => suite.daemon().logLines();

const opened = (): number =>
  daemonLines().filter((l) => l.msg === 'connection opened' && l.protocol === 'fastcgi').length;

/** Runs `count` GETs, `concurrency` at a time, over one keep-alive agent; resolves with the statuses. */
async function burst(port: number, count: number, concurrency: number, path = '/env'): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        statuses.push((await request({ port, path, agent })).status);
      }
    }),
  );
  agent.destroy();
  return statuses;
}

describe('connection reuse', () => {
  const keepalive = available.find((t) => t.label === 'nginx keepalive');
  (keepalive ? test : test.skip)(
    'nginx with fastcgi_keep_conn sends many requests over few connections',
    async () => {
      const before = opened();
      const statuses = await burst(frontEnd('nginx keepalive').port, 300, 4);
      expect(statuses).toEqual(Array(300).fill(200));
      const connections = opened() - before;
      expect(connections).toBeGreaterThan(0);
      expect(connections).toBeLessThanOrEqual(16);
    },
  );

  const simple = available.find((t) => t.label === 'nginx one connection per request');
  (simple ? test : test.skip)('nginx without keepalive opens a connection per request', async () => {
    const before = opened();
    expect(await burst(frontEnd('nginx one connection per request').port, 40, 4)).toEqual(
      Array(40).fill(200),
    );
    // The daemon logs each connection before answering on it, but its log reaches this process
    // through a pipe that may lag behind the last response. At least one per request, not exactly:
    // HAProxy's health checks (every 2 s, on the ping path) open connections to the same daemon.
    await until(
      () => opened() - before >= 40,
      2000,
      () => `${opened() - before} connections logged`,
    );
    expect(opened() - before).toBeGreaterThanOrEqual(40);
  });

  const reuse = available.find((t) => t.label === 'apache enablereuse');
  (reuse ? test : test.skip)('Apache with enablereuse keeps its connections', async () => {
    const before = opened();
    expect(await burst(frontEnd('apache enablereuse').port, 200, 4)).toEqual(Array(200).fill(200));
    expect(opened() - before).toBeLessThan(50);
  });
});

describe('nginx with fastcgi_request_buffering off', () => {
  const target = available.find((t) => t.label === 'nginx keepalive');
  (target ? test : test.skip)('a chunked upload streams in with an empty CONTENT_LENGTH', async () => {
    const body = patternStream(5 * 1024 * 1024);
    const response = await request({
      port: frontEnd('nginx keepalive').port,
      method: 'POST',
      path: '/uploads/hash',
      body,
      timeoutMs: 30_000,
    });
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body.toString())).toEqual({
      bytes: 5 * 1024 * 1024,
      sha256: body.digest(),
      contentLength: null,
    });
  });
});

describe('HAProxy multiplexing', () => {
  const target = available.find((t) => t.label === 'haproxy');
  (target ? test : test.skip)(
    'asks GET_VALUES and multiplexes concurrent requests over few connections',
    async () => {
      const before = opened();
      // Under HAProxy's max-reqs (64 in the shipped config): beyond it HAProxy itself answers 500.
      const statuses = await burst(frontEnd('haproxy').port, 200, 40, '/slow?ms=50');
      expect(statuses).toEqual(Array(200).fill(200));
      expect(opened() - before).toBeLessThan(40);
      expect(daemonLines().some((l) => l.msg === 'GET_VALUES')).toBe(true);
    },
  );

  (target ? test : test.skip)('a client abort on a shared connection stops only that request', async () => {
    const finished = (l: Record<string, unknown>): boolean =>
      l.probe === 'drip-finished' && l.aborted === true;
    const before = daemonLines().filter(finished).length;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const neighbours = Array.from({ length: 6 }, () =>
      request({ port: frontEnd('haproxy').port, path: '/slow?ms=1000', agent }),
    );
    await new Promise((r) => setTimeout(r, 100));
    const response = await requestAndAbort({
      port: frontEnd('haproxy').port,
      path: '/drip',
      abortAfterBytes: 20,
    });
    expect(response.complete).toBe(false);
    // HAProxy 2.6 does not send FCGI_ABORT_REQUEST here: it lets the other streams finish, then
    // closes the connection, which stops the app all the same (ABORT_REQUEST itself is covered by
    // the raw-socket tests).
    expect((await Promise.all(neighbours)).map((r) => r.status)).toEqual(Array(6).fill(200));
    await waitForLog(suite.daemon(), () => daemonLines().filter(finished).length > before, 10_000);
    expect((await request({ port: frontEnd('haproxy').port, path: '/missing' })).status).toBe(404);
    agent.destroy();
  });
});
