// What a load balancer's checks see: the ping and status paths answer at once on a saturated pool,
// and with --stop-grace the ping path answers 503 while requests are still served, before the drain.
import { serve, type Server } from '../../src/index';
import type { App } from '../../src/gateway/types';
import { startDaemon, type Daemon } from '../helpers/daemon';
import { FastCgiClient, fcgiParams, fcgiRequest, until } from '../helpers/fastcgi';
import { usageErrorCode } from '../helpers/usage';

const PROBE = 'test/fixtures/apps/probe.mjs';

/** Status and body of one GET over a connection of its own. */
async function get(address: string, path: string): Promise<{ status: number; body: string }> {
  const reply = await fcgiRequest(address, { params: fcgiParams('GET', path) }, 5000);
  const response = reply.response();
  return { status: response.status, body: response.body.toString() };
}

/** How many log lines say `msg`. */
function logged(daemon: Daemon, msg: string): number {
  return daemon.logLines().filter((line) => line.msg === msg).length;
}

const MODES: Array<[string, string[], number]> = [
  ['alone', ['--workers', '0'], 1],
  ['--workers 2', ['--workers', '2'], 2],
];

describe.each(MODES)('ping under saturation (%s)', (_mode, modeArgs, processes) => {
  test('every request slot held by an app waiting on a promise: ping and status answer within a second', async () => {
    const daemon = await startDaemon(PROBE, [
      ...modeArgs,
      '--fastcgi',
      '127.0.0.1:0',
      '--max-concurrent',
      '2',
      '--ping-path',
      '/ping',
      '--status-path',
      '/status',
      '--drain-timeout',
      '500',
    ]);
    const address = daemon.addresses.fastcgi![0];
    const held: FastCgiClient[] = [];
    try {
      // /never waits on a promise that never settles: each one holds a request slot of its process.
      // Connections go to whichever process accepts first: more are opened until every process has
      // refused one (the status path, which bypasses admission, tells).
      const allRefusing = async (): Promise<boolean> => {
        const status = JSON.parse((await get(address, '/status')).body) as {
          workers: Array<{ counters: { overloaded: number } }>;
        };
        return status.workers.length === processes && status.workers.every((w) => w.counters.overloaded > 0);
      };
      while (!(await allRefusing())) {
        if (held.length === 40) throw new Error(`not saturated after 40 requests:\n${daemon.logs()}`);
        const client = await FastCgiClient.connect(address);
        held.push(client);
        // One more than needed may be opened while the last one is on its way: it is refused too.
        await client.begin(1, { params: fcgiParams('GET', '/never') });
      }
      expect((await get(address, '/anything')).status).toBe(503);
      for (let i = 0; i < 2 * processes; i++) {
        const started = Date.now();
        expect(await get(address, '/ping')).toEqual({ status: 200, body: 'pong\n' });
        expect((await get(address, '/status')).status).toBe(200);
        expect(Date.now() - started).toBeLessThan(1000);
      }
    } finally {
      for (const client of held) client.destroy();
      expect(await daemon.stop()).toBe(0);
    }
  }, 30_000);
});

describe.each(MODES)('--stop-grace (%s)', (_mode, modeArgs, processes) => {
  test('after SIGTERM the ping path answers 503 while requests are served, then the daemon drains and exits', async () => {
    const daemon = await startDaemon(PROBE, [
      ...modeArgs,
      '--fastcgi',
      '127.0.0.1:0',
      '--ping-path',
      '/ping',
      '--stop-grace',
      '2000',
    ]);
    const address = daemon.addresses.fastcgi![0];
    const graceLine = 'stop grace: the ping path answers 503, requests are still served';
    const workerGraceLine = 'stop grace: the ping path answers 503';
    try {
      expect((await get(address, '/ping')).status).toBe(200);
      const signalled = Date.now();
      process.kill(daemon.pid, 'SIGTERM');
      const inGrace = (): boolean =>
        logged(daemon, graceLine) === 1 && (processes === 1 || logged(daemon, workerGraceLine) === processes);
      await until(inGrace, 5000, () => daemon.logs());
      // New connections still reach every process: the listeners stay open through the grace.
      for (let i = 0; i < 2 * processes; i++) {
        expect(await get(address, '/ping')).toEqual({ status: 503, body: 'stopping\n' });
        expect((await get(address, '/echo')).status).toBe(200);
      }
      expect(logged(daemon, 'stop grace over: draining')).toBe(0);
      expect((await daemon.exited).code).toBe(0);
      expect(Date.now() - signalled).toBeGreaterThanOrEqual(2000);
      expect(logged(daemon, 'stop grace over: draining')).toBe(1);
    } finally {
      await daemon.stop();
    }
  }, 30_000);
});

describe('serve() in a program', () => {
  const app: App = (_environ, start) => {
    start('200 OK', [['Content-Type', 'text/plain']]);
    return ['served\n'];
  };

  let server: Server | undefined;
  afterEach(() => server?.close(0));

  test('stopGrace: close() answers the ping path with 503 for that long, serving the rest, then stops', async () => {
    server = await serve(app, { fastcgi: ['127.0.0.1:0'], pingPath: '/ping', stopGrace: 1000 });
    const address = server.addresses[0].address;
    expect((await get(address, '/ping')).status).toBe(200);
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    expect(await get(address, '/ping')).toEqual({ status: 503, body: 'stopping\n' });
    expect(await get(address, '/other')).toEqual({ status: 200, body: 'served\n' });
    expect(closed).toBe(false);
    await closing;
    await expect(get(address, '/ping')).rejects.toThrow(/ECONNREFUSED/);
  });

  test('stopGrace without pingPath is refused: it would delay the stop for nothing', async () => {
    expect(await usageErrorCode(serve(app, { fastcgi: ['127.0.0.1:0'], stopGrace: 1000 }))).toBe(
      'ERR_USAGE_STOP_GRACE',
    );
  });
});
