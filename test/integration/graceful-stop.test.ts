// A stop loses nothing it received: a kept-alive FastCGI connection stays open and serving for
// --stop-idle after SIGTERM, and no request that reached sluice fails behind nginx or HAProxy.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { FCGI_END_REQUEST, FCGI_UNKNOWN_TYPE } from '../../src/fastcgi/constants';
import { startDaemon, tempSocketPath, type Daemon } from '../helpers/daemon';
import { FastCgiClient, fcgiParams, until } from '../helpers/fastcgi';
import { requireBinary, startFrontEnd, type FrontEnd } from '../helpers/frontends';
import { httpHashLoop, type Loop } from '../helpers/loops';

const PROBE = 'test/fixtures/apps/probe.mjs';
const hasNginx = requireBinary('nginx');

const MODES: Array<[string, string[], number]> = [
  ['alone', ['--workers', '0'], 1],
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
        // And between them a management record: nginx closes a connection with bytes after
        // END_REQUEST instead of keeping it for its next request.
        const [end, trailer] = client.records.slice(-2);
        expect([end.type, end.requestId]).toEqual([FCGI_END_REQUEST, 1]);
        expect([trailer.type, trailer.requestId]).toEqual([FCGI_UNKNOWN_TYPE, 0]);
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

/** The shipped config of each front end the stop is measured behind. */
const DEPLOY = { nginx: 'deploy/nginx/sluice-fastcgi.conf', haproxy: 'deploy/haproxy/sluice-fastcgi.cfg' };
type Proxy = keyof typeof DEPLOY;
const hasHaproxy = requireBinary('haproxy');

/** Stops per test and clients per stop: raise them for the figures of docs/deploy.md. */
const STOPS = Number(process.env.SLUICE_STOP_RUNS ?? 1);
const CLIENTS = Number(process.env.SLUICE_STOP_CLIENTS ?? 4);

/** What became of the failed requests of one or more stops. */
interface Failures {
  /** Refused once sluice had closed its listeners (or the front end had taken it out). */
  refused: number;
  /** Written by the front end on a connection sluice was closing: the close race of docs/deploy.md. */
  crossed: number;
  /** The front end's own errors (HAProxy's `IH`), before the signal as after it. */
  frontEnd: number;
  /** Failed although sluice read them (its access log has a line for each): must stay empty. */
  lost: string[];
}

/**
 * Sorts the failed requests of the loops: sluice's access log tells those it read; the front end's
 * log tells, for the others, whether they found no listener or crossed the close.
 */
function sortFailures(
  proxy: Proxy,
  loops: Map<string, Loop>,
  accessLog: string,
  frontEndLog: string,
): Failures {
  const received = new Set(
    accessLog
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => (JSON.parse(line) as { uri: string }).uri),
  );
  const failures: Failures = { refused: 0, crossed: 0, frontEnd: 0, lost: [] };
  const logLines = frontEndLog.split('\n');
  for (const [name, loop] of loops) {
    for (const { n, message } of loop.result.failures) {
      const uri = `/hash?loop=${name}&n=${n}`;
      if (received.has(uri)) {
        failures.lost.push(uri);
        continue;
      }
      // nginx: the error log's lines end with the request; HAProxy's log line holds it too.
      const lines = logLines.filter(
        (line) => line.includes(`${uri} HTTP`) && (proxy === 'haproxy' || line.includes('request: "')),
      );
      if (
        proxy === 'nginx' &&
        lines.length > 0 &&
        lines.every((l) => /connect\(\) to .* failed|no live upstreams/.test(l))
      )
        failures.refused++;
      else if (
        proxy === 'haproxy' &&
        // HAProxy's own 503 says so even when its log line was lost as it stopped.
        (lines.some((l) => /<NOSRV>| [sS]C-- /.test(l)) || message.includes('No server is available'))
      )
        failures.refused++;
      else if (proxy === 'haproxy' && lines.some((l) => / IH-- /.test(l))) failures.frontEnd++;
      else failures.crossed++;
    }
  }
  return failures;
}

function summary(loops: Map<string, Loop>): { sent: number; failed: number; errors: string[] } {
  const all = [...loops.values()].map((l) => l.result);
  return {
    sent: all.reduce((sum, r) => sum + r.sent, 0),
    failed: all.reduce((sum, r) => sum + r.failed, 0),
    errors: all.flatMap((r) => r.errors),
  };
}

interface UnderLoad {
  loops: Map<string, Loop>;
  frontEnd: FrontEnd;
  daemon: Daemon;
  accessLog: string;
}

/**
 * A front end from its shipped config in front of a daemon on a Unix socket (with the ping path the
 * HAProxy config checks), `clients` paced loops through it, and `change` made once they run.
 */
async function underLoad(
  proxy: Proxy,
  daemonArgs: string[],
  clients: number,
  change: (daemon: Daemon, loops: Map<string, Loop>) => Promise<void>,
): Promise<UnderLoad> {
  const socket = tempSocketPath('fastcgi.sock');
  const accessLog = path.join(path.dirname(socket), 'access.log');
  const daemon = await startDaemon(PROBE, [
    ...daemonArgs,
    '--fastcgi',
    'unix:' + socket,
    '--socket-mode',
    '0666',
    '--ping-path',
    '/sluice-ping',
    '--access-log',
    accessLog,
  ]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const loops = new Map<string, Loop>();
  let frontEnd: FrontEnd | undefined;
  try {
    frontEnd = await startFrontEnd(proxy, DEPLOY[proxy], { fastcgi: 'unix:' + socket });
    // Each client 5 ms apart: a few hundred requests a second, the cores left to the servers.
    for (let i = 0; i < clients; i++) {
      const name = String.fromCharCode(97 + i);
      loops.set(name, httpHashLoop(frontEnd.port, agent, name, 5));
    }
    await until(
      () => summary(loops).sent > 50 * clients,
      10_000,
      () => JSON.stringify(summary(loops)),
    );
    await change(daemon, loops);
    return { loops, frontEnd, daemon, accessLog: fs.readFileSync(accessLog, 'utf8') };
  } finally {
    await Promise.all([...loops.values()].map((l) => l.stop()));
    agent.destroy();
    await frontEnd?.stop();
    await daemon.stop();
  }
}

/** SIGTERM under load, `STOPS` times; what became of the requests, summed. */
async function stopsUnderLoad(
  proxy: Proxy,
  daemonArgs: string[],
): Promise<Failures & { sent: number; answeredAfterSignal: number }> {
  const total = {
    sent: 0,
    answeredAfterSignal: 0,
    refused: 0,
    crossed: 0,
    frontEnd: 0,
    lost: [] as string[],
  };
  for (let stop = 0; stop < STOPS; stop++) {
    let answeredAfterSignal = 0;
    const run = await underLoad(proxy, daemonArgs, CLIENTS, async (daemon, loops) => {
      const before = summary(loops);
      process.kill(daemon.pid, 'SIGTERM');
      expect((await daemon.exited).code).toBe(0);
      const after = summary(loops);
      answeredAfterSignal = after.sent - before.sent - (after.failed - before.failed);
      // What follows finds no listener: refused, the rest of the test's load.
      await until(
        () => summary(loops).failed > after.failed + 10,
        5000,
        () => 'loops failing after the exit',
      );
    });
    const failures = sortFailures(proxy, run.loops, run.accessLog, run.frontEnd.errorLog());
    if (failures.lost.length > 0) failures.lost.push(run.daemon.logs().slice(-3000));
    total.sent += summary(run.loops).sent;
    total.answeredAfterSignal += answeredAfterSignal;
    total.refused += failures.refused;
    total.crossed += failures.crossed;
    total.frontEnd += failures.frontEnd;
    total.lost.push(...failures.lost);
  }
  return total;
}

describe.each(MODES)('SIGTERM under GETs and 64 KiB POSTs (%s)', (mode, modeArgs) => {
  (hasNginx ? test : test.skip)(
    'through nginx: every request that sluice read is answered, and some after the signal',
    async () => {
      const result = await stopsUnderLoad('nginx', modeArgs);
      console.log(
        `SIGTERM through nginx, ${mode}, ${STOPS} stops of ${CLIENTS} clients: ${JSON.stringify(result)}`,
      );
      expect(result.lost).toEqual([]);
      expect(result.answeredAfterSignal).toBeGreaterThan(0);
    },
    60_000 * STOPS,
  );
});

(hasHaproxy ? test : test.skip)(
  'SIGTERM behind HAProxy: every request that sluice read is answered',
  async () => {
    const result = await stopsUnderLoad('haproxy', ['--workers', '2']);
    console.log(`SIGTERM behind HAProxy, ${STOPS} stops of ${CLIENTS} clients: ${JSON.stringify(result)}`);
    expect(result.lost).toEqual([]);
  },
  60_000 * STOPS,
);

(hasHaproxy ? test : test.skip)(
  'SIGTERM with --stop-grace behind HAProxy checking the ping path: the host is out before it closes, nothing crosses the close',
  async () => {
    // The shipped config checks every 2 s and takes the server out after 3 failures: 6 s, and a
    // margin for checks late on a loaded machine.
    const result = await stopsUnderLoad('haproxy', ['--workers', '2', '--stop-grace', '9000']);
    console.log(
      `SIGTERM with a stop grace behind HAProxy, ${STOPS} stops of ${CLIENTS} clients: ${JSON.stringify(result)}`,
    );
    expect(result.lost).toEqual([]);
    expect(result.crossed).toBe(0);
  },
  60_000 * STOPS,
);

(hasNginx ? test : test.skip)(
  'SIGHUP under GETs and 64 KiB POSTs through nginx: not one request fails',
  async () => {
    const { loops } = await underLoad('nginx', ['--workers', '2'], 4, async (daemon, loops) => {
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
