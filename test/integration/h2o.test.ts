// h2o 2.2 in front of sluice, from the shipped configs: deploy/h2o/h2o-fastcgi.conf (fastcgi.connect
// to a Unix socket, kept-alive connections) through the standard interop cases, and what h2o 2.2.5
// does when the app answers early with keep-alive; deploy/h2o/h2o-fastcgi-spawn.conf, where h2o
// starts sluice itself with the listening socket on fd 0 (fastcgi.spawn).
import * as http from 'node:http';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startDaemon, tempSocketPath } from '../helpers/daemon';
import { until } from '../helpers/fastcgi';
import { startFrontEnd, type FrontEnd } from '../helpers/frontends';
import { pattern, sha256 } from '../helpers/bytes';
import { request } from '../helpers/http';
import { childrenOf, killLeftovers, sluiceProcesses, uidOf } from '../helpers/spawned-processes';
import { serveFiles, stage } from '../helpers/stage';
import { interopSuite, waitForLog } from './interop-cases';

const KiB = 1024;
const MiB = 1024 * KiB;
const CONNECT = 'deploy/h2o/h2o-fastcgi.conf';
const SPAWN = 'deploy/h2o/h2o-fastcgi-spawn.conf';
const PROBE = 'test/fixtures/apps/probe.mjs';

// Under CI=true a missing h2o throws here (in requireBinary), so the file fails instead of skipping.
const suite = interopSuite(
  'fastcgi',
  [{ label: 'h2o keepalive', name: 'h2o', file: CONNECT, via: 'unix' }],
  ['--log-level', 'debug'],
);
const withH2o = suite.available.length > 0 ? test : test.skip;

/** The status the client got, or the code of the error it got instead of a response. */
function outcome(promise: Promise<{ status: number }>): Promise<number | string> {
  return promise.then(
    (response) => response.status,
    (error: NodeJS.ErrnoException) => error.code ?? error.message,
  );
}

describe('h2o keepalive, more', () => {
  withH2o('fastcgi.timeout.keepalive: many requests over few connections', async () => {
    const opened = (): number =>
      suite
        .daemon()
        .logLines()
        .filter((l) => l.msg === 'connection opened' && l.protocol === 'fastcgi').length;
    const before = opened();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    const statuses = await Promise.all(
      Array.from({ length: 60 }, () =>
        request({ port: suite.frontEnd('h2o keepalive').port, path: '/env', agent }),
      ),
    );
    agent.destroy();
    expect(statuses.map((r) => r.status)).toEqual(Array(60).fill(200));
    expect(opened() - before).toBeGreaterThan(0);
    expect(opened() - before).toBeLessThanOrEqual(8);
  });

  withH2o('passes Authorization on, and a client’s Proxy header as HTTP_PROXY (httpoxy)', async () => {
    const response = await request({
      port: suite.frontEnd('h2o keepalive').port,
      path: '/env',
      headers: { authorization: 'Bearer t0ken', proxy: 'http://evil.test:8080' },
    });
    const environ = JSON.parse(response.body.toString()) as Record<string, string>;
    expect(environ.HTTP_AUTHORIZATION).toBe('Bearer t0ken');
    // Unlike the other shipped configs: h2o 2.2.5 has no way to drop a request header before
    // fastcgi.connect, so the app must never take HTTP_PROXY for a proxy setting (docs/front-ends.md).
    expect(environ.HTTP_PROXY).toBe('http://evil.test:8080');
  });

  withH2o('a body over limit-request-body gets h2o’s own 413; sluice never sees it', async () => {
    const lines = suite.daemon().logLines().length;
    const response = await outcome(
      request({
        port: suite.frontEnd('h2o keepalive').port,
        method: 'POST',
        path: '/hash',
        body: Buffer.alloc(16 * MiB + 1),
        timeoutMs: 30_000,
      }),
    );
    // h2o answers 413 and closes at once: curl reads the 413, node's client, still writing the
    // body, the reset.
    expect([413, 'ECONNRESET', 'EPIPE']).toContain(response);
    expect(
      suite
        .daemon()
        .logLines()
        .slice(lines)
        .filter((l) => l.msg === 'connection opened'),
    ).toEqual([]);
    expect((await request({ port: suite.frontEnd('h2o keepalive').port, path: '/missing' })).status).toBe(
      404,
    );
  });
});

describe('h2o 2.2.5 with keep-alive and an early answer', () => {
  withH2o(
    'sluice’s 413 before the whole body was sent: h2o aborts, the client gets no response',
    async () => {
      // Far under h2o's limit-request-body: sluice refuses the body from its CONTENT_LENGTH, while
      // h2o is still writing it.
      const daemon = await startDaemon(PROBE, [
        ...['--fastcgi', 'unix:' + tempSocketPath('early.sock'), '--socket-mode', '0666'],
        ...['--max-body-bytes', String(64 * KiB)],
      ]);
      let h2o: FrontEnd | undefined;
      try {
        h2o = await startFrontEnd('h2o', CONNECT, { fastcgi: daemon.addresses.fastcgi![0] });
        const port = h2o.port;
        const small = pattern(1000);
        const accepted = await request({ port, method: 'POST', path: '/hash', body: small });
        expect(JSON.parse(accepted.body.toString())).toMatchObject({ bytes: 1000, sha256: sha256(small) });

        const refused = await outcome(
          request({ port, method: 'POST', path: '/hash', body: pattern(4 * MiB), timeoutMs: 20_000 }),
        );
        // node's name for a connection closed before any response.
        expect(refused).toBe('ECONNRESET');
        await waitForLog(daemon, (l) => l.code === 'ERR_BODY_TOO_LARGE');
        // Not just that connection: the whole server is gone, and refuses every client after it.
        await until(
          () => !h2o!.running(),
          10_000,
          () => h2o!.errorLog(),
        );
        expect(h2o.errorLog()).toMatch(/Assertion .*h2o_socket_is_writing.* failed/);
        expect(await outcome(request({ port, path: '/env' }))).toBe('ECONNREFUSED');
      } finally {
        await h2o?.stop();
        expect(await daemon.stop()).toBe(0);
      }
    },
    60_000,
  );
});

describe('h2o fastcgi.spawn (deploy/h2o/h2o-fastcgi-spawn.conf)', () => {
  /** h2o spawning the staged sluice and probe app with `args` added to the shipped command. */
  async function spawning(args: string[], extra?: string) {
    // Started by root, h2o runs the command as nobody: sluice, its packages and the app are staged
    // where that user may read them.
    const staged = stage([...serveFiles(), PROBE]);
    const command = [process.execPath, staged.at('bin/sluice'), 'serve', staged.at(PROBE), ...args].join(' ');
    const h2o = await startFrontEnd('h2o', SPAWN, {}, { spawn: command, extra });
    const ready = (): boolean => h2o.errorLog().includes('"msg":"ready"');
    await until(ready, 15_000, () => h2o.errorLog());
    return {
      h2o,
      staged,
      copies: () => sluiceProcesses(staged.dir),
      async cleanUp() {
        await h2o.stop();
        killLeftovers(staged.dir);
        staged.remove();
      },
    };
  }

  withH2o(
    'one single-process sluice as nobody, logging to h2o’s stderr; no keep-alive, so an early 413 ' +
      'reaches the client; SIGTERM to h2o stops sluice',
    async () => {
      const run = await spawning(['--max-body-bytes', String(64 * KiB)]);
      const { h2o } = run;
      try {
        // sluice's log is on h2o's stderr, not in error-log, which h2o opens after starting it.
        const log = (file: string): string => fs.readFileSync(path.join(h2o.prefix, 'logs', file), 'utf8');
        expect(log('stderr.log')).toContain('"fdName":"FCGI_LISTENSOCK_FILENO"');
        expect(log('error.log')).not.toContain('"msg"');
        const [copy, ...others] = run.copies();
        expect(others).toEqual([]);
        expect(childrenOf(copy!.pid)).toEqual([]);
        if (process.getuid?.() === 0) expect(copy!.uid).toBe(uidOf('nobody'));

        const env = await request({ port: h2o.port, path: '/env?via=spawn' });
        expect(JSON.parse(env.body.toString())).toMatchObject({
          'sluice.protocol': 'fastcgi',
          QUERY_STRING: 'via=spawn',
          SERVER_SOFTWARE: expect.stringMatching(/^h2o\//) as unknown,
        });
        const body = pattern(60 * KiB);
        const posted = await request({ port: h2o.port, method: 'POST', path: '/hash', body });
        expect(JSON.parse(posted.body.toString())).toMatchObject({
          bytes: body.length,
          sha256: sha256(body),
        });
        const early = await request({
          port: h2o.port,
          method: 'POST',
          path: '/hash',
          body: pattern(4 * MiB),
        });
        expect(early.status).toBe(413);
        expect(h2o.errorLog()).toContain('ERR_BODY_TOO_LARGE');
        expect(h2o.running()).toBe(true);

        // As its init script stops it: h2o's helper sends SIGTERM to sluice, which drains and exits.
        process.kill(h2o.pid, 'SIGTERM');
        await until(
          () => run.copies().length === 0 && !h2o.running(),
          15_000,
          () => h2o.errorLog(),
        );
        expect(h2o.errorLog()).toContain('"msg":"stopped"');
      } finally {
        await run.cleanUp();
      }
    },
    60_000,
  );

  withH2o(
    'a sluice killed with SIGKILL is not restarted: requests wait for fastcgi.timeout.io, then 503',
    async () => {
      // A short fastcgi.timeout.io (h2o's default is 30 s) at the top level, inherited by the path.
      const run = await spawning([], 'fastcgi.timeout.io: 1000');
      try {
        const [copy] = run.copies();
        expect((await request({ port: run.h2o.port, path: '/env' })).status).toBe(200);
        process.kill(copy!.pid, 'SIGKILL');
        await until(
          () => run.copies().length === 0,
          10_000,
          () => run.h2o.errorLog(),
        );
        for (let i = 0; i < 2; i++) {
          const started = Date.now();
          expect((await request({ port: run.h2o.port, path: '/env' })).status).toBe(503);
          // The listening socket outlives sluice in h2o's helper: connections wait in its backlog.
          expect(Date.now() - started).toBeGreaterThanOrEqual(900);
        }
        expect(run.copies()).toEqual([]);
        expect(run.h2o.running()).toBe(true);
      } finally {
        await run.cleanUp();
      }
    },
    60_000,
  );
});
