// A stop loses nothing it received: a kept-alive FastCGI connection stays open and serving for
// --stop-idle after SIGTERM, and nginx in front turns no request that reached sluice into a 502.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { startDaemon, tempSocketPath, type Daemon } from '../helpers/daemon';
import { FastCgiClient, fcgiParams, until } from '../helpers/fastcgi';
import { requireBinary, startFrontEnd, type FrontEnd } from '../helpers/frontends';
import { httpHashLoop, type Loop } from '../helpers/loops';

const PROBE = 'test/fixtures/apps/probe.mjs';
const hasNginx = requireBinary('nginx');

const MODES: Array<[string, string[], number]> = [
  ['alone', [], 1],
  ['--workers 2', ['--workers', '2'], 2],
];

/** SIGTERM, then waits until every serving process logged that it is stopping. */
async function signalStop(daemon: Daemon, processes: number): Promise<void> {
  process.kill(daemon.pid, 'SIGTERM');
  const stopping = (): number => daemon.logLines().filter((l) => l.msg === 'stopping').length;
  // With workers, the primary logs it and then each worker.
  const expected = processes === 1 ? 1 : processes + 1;
  await until(
    () => stopping() === expected,
    5000,
    () => daemon.logs(),
  );
}

describe.each(MODES)('a kept-alive FastCGI connection on stop (%s)', (_mode, modeArgs, processes) => {
  test('a request sent on it after SIGTERM is served, the connection closed behind its answer', async () => {
    const daemon = await startDaemon(PROBE, [
      ...modeArgs,
      '--fastcgi',
      'unix:' + tempSocketPath('f.sock'),
      '--stop-idle',
      '3000',
      '--drain-timeout',
      '8000',
    ]);
    const address = daemon.addresses.fastcgi![0];
    // Several, so that with workers each process holds at least one.
    const clients = await Promise.all(Array.from({ length: 4 }, () => FastCgiClient.connect(address)));
    try {
      for (const client of clients) {
        const reply = await client.request(1, { params: fcgiParams('GET', '/echo') });
        expect(reply.response().status).toBe(200);
        client.replies.delete(1);
      }
      const signalled = Date.now();
      await signalStop(daemon, processes);
      const body = Buffer.alloc(64 * 1024, 'after the signal;');
      for (const client of clients) {
        const reply = await client.request(1, {
          params: fcgiParams('POST', '/hash', [['CONTENT_LENGTH', String(body.length)]]),
          stdin: body,
        });
        const answer = JSON.parse(reply.response().body.toString()) as { sha256: string };
        expect(answer.sha256).toBe(createHash('sha256').update(body).digest('hex'));
        // Its end of input right behind END_REQUEST, not --stop-idle later.
        await client.waitClose(1000);
      }
      expect((await daemon.exited).code).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(8000);
    } finally {
      for (const client of clients) client.destroy();
      await daemon.stop();
    }
  }, 30_000);

  test('one that stays quiet is closed after --stop-idle, and the daemon exits', async () => {
    const daemon = await startDaemon(PROBE, [
      ...modeArgs,
      '--fastcgi',
      'unix:' + tempSocketPath('f.sock'),
      '--stop-idle',
      '200',
      '--drain-timeout',
      '20000',
    ]);
    const client = await FastCgiClient.connect(daemon.addresses.fastcgi![0]);
    try {
      expect((await client.request(1, { params: fcgiParams('GET', '/echo') })).response().status).toBe(200);
      const signalled = Date.now();
      await signalStop(daemon, processes);
      await client.waitClose(5000);
      expect((await daemon.exited).code).toBe(0);
      // Well before the drain timeout: an idle connection does not hold the stop.
      expect(Date.now() - signalled).toBeLessThan(5000);
    } finally {
      client.destroy();
      await daemon.stop();
    }
  }, 30_000);
});

/**
 * Failed requests of the loops that sluice received: its access log has a line for each request it
 * read, answered or not. Those it never saw were refused (its listeners closed) or crossed its close
 * on a kept-alive connection (the race of docs/deploy.md), as the front end's error log tells.
 */
function lostInSluice(loops: Map<string, Loop>, accessLog: string): string[] {
  const received = new Set(
    accessLog
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => (JSON.parse(line) as { uri: string }).uri),
  );
  return [...loops].flatMap(([name, loop]) =>
    loop.result.failedIds.map((n) => `/hash?loop=${name}&n=${n}`).filter((uri) => received.has(uri)),
  );
}

/** The front end's error log lines of failed requests that reached sluice's socket: the close race. */
function crossedTheClose(errorLog: string): number {
  return errorLog
    .split('\n')
    .filter((line) => /request: "/.test(line) && !/connect\(\) to .* failed|no live upstreams/.test(line))
    .length;
}

function summary(loops: Map<string, Loop>): { sent: number; failed: number; errors: string[] } {
  const all = [...loops.values()].map((l) => l.result);
  return {
    sent: all.reduce((sum, r) => sum + r.sent, 0),
    failed: all.reduce((sum, r) => sum + r.failed, 0),
    errors: all.flatMap((r) => r.errors),
  };
}

/** nginx in front (the shipped keepalive config) of a daemon on a Unix socket, under paced loops. */
async function underNginxLoad(
  daemonArgs: string[],
  change: (daemon: Daemon, loops: Map<string, Loop>) => Promise<void>,
): Promise<{ loops: Map<string, Loop>; nginx: FrontEnd; daemon: Daemon; accessLog: string }> {
  const socket = tempSocketPath('fastcgi.sock');
  const accessLog = path.join(path.dirname(socket), 'access.log');
  const daemon = await startDaemon(PROBE, [
    ...daemonArgs,
    '--fastcgi',
    'unix:' + socket,
    '--socket-mode',
    '0666',
    '--access-log',
    accessLog,
  ]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const loops = new Map<string, Loop>();
  let nginx: FrontEnd | undefined;
  try {
    nginx = await startFrontEnd('nginx', 'deploy/nginx/sluice-fastcgi.conf', { fastcgi: 'unix:' + socket });
    // Four clients, 5 ms apart: a few hundred requests a second, the cores left to nginx and sluice.
    for (const name of ['a', 'b', 'c', 'd']) loops.set(name, httpHashLoop(nginx.port, agent, name, 5));
    await until(
      () => summary(loops).sent > 200,
      10_000,
      () => JSON.stringify(summary(loops)),
    );
    await change(daemon, loops);
    return { loops, nginx, daemon, accessLog: fs.readFileSync(accessLog, 'utf8') };
  } finally {
    await Promise.all([...loops.values()].map((l) => l.stop()));
    agent.destroy();
    await nginx?.stop();
    await daemon.stop();
  }
}

describe.each(MODES)('through nginx (%s)', (_mode, modeArgs) => {
  (hasNginx ? test : test.skip)(
    'SIGTERM under GETs and 64 KiB POSTs: every request that reached sluice is answered',
    async () => {
      let answeredAfterSignal = 0;
      const { loops, nginx, daemon, accessLog } = await underNginxLoad(modeArgs, async (daemon, loops) => {
        const before = summary(loops);
        process.kill(daemon.pid, 'SIGTERM');
        expect((await daemon.exited).code).toBe(0);
        answeredAfterSignal = summary(loops).sent - before.sent - (summary(loops).failed - before.failed);
        // Requests now find no socket: 502s that never reached sluice, the rest of the test's load.
        const failedAtExit = summary(loops).failed;
        await until(
          () => summary(loops).failed > failedAtExit + 10,
          5000,
          () => 'loops failing after exit',
        );
      });
      const lost = lostInSluice(loops, accessLog);
      const crossed = crossedTheClose(nginx.errorLog());
      console.log(
        `SIGTERM through nginx: ${JSON.stringify({ ...summary(loops), errors: undefined })}, answered after the signal ${answeredAfterSignal}, crossed the close ${crossed}, lost in sluice ${lost.length}`,
      );
      expect({ lost, log: lost.length > 0 ? daemon.logs().slice(-3000) : '' }).toEqual({ lost: [], log: '' });
      expect(answeredAfterSignal).toBeGreaterThan(0);
    },
    60_000,
  );
});

(hasNginx ? test : test.skip)(
  'SIGHUP under GETs and 64 KiB POSTs through nginx: not one request fails',
  async () => {
    const { loops } = await underNginxLoad(['--workers', '2'], async (daemon, loops) => {
      process.kill(daemon.pid, 'SIGHUP');
      await until(
        () => daemon.logLines().some((l) => l.msg === 'reloaded'),
        10_000,
        () => daemon.logs(),
      );
      const settled = summary(loops).sent;
      await until(
        () => summary(loops).sent > settled + 200,
        10_000,
        () => 'loops going on',
      );
    });
    const result = summary(loops);
    console.log(`SIGHUP through nginx: ${JSON.stringify(result)}`);
    expect(result.failed).toBe(0);
  },
  60_000,
);
