// A socket that exists accepts: from the moment its file appears, a connection waits in the backlog
// until a worker takes it, through the start, the crash of the only worker and a reload; a daemon
// started on the path of one that stops takes the path over, and the stopping one leaves it alone.
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { FastCgiClient, fcgiParams, fcgiRequest, until } from '../helpers/fastcgi';
import { startDaemon, tempSocketPath, type Daemon } from '../helpers/daemon';

const APP = 'test/fixtures/apps/slow-start.mjs';
/** Long enough that a connection made during the load would be refused if nothing listened yet. */
const LOAD_MS = 400;
/** A request sent this often, each on its own connection, without waiting for the one before. */
const EVERY_MS = 5;
/** Connections made while the daemon's event loop is blocked, left in its listener's queue. */
const QUEUED = 8;

interface Traffic {
  sent: number;
  /** ECONNREFUSED or ENOENT: nothing listened at the path. */
  refused: number;
  /** When the first and the last of them were refused (Date.now()). */
  firstRefusedAt: number;
  lastRefusedAt: number;
  /** Connected, but no complete 200. */
  failed: number;
  errors: string[];
  /** The process id each answer came from, counted. */
  answeredBy: Map<string, number>;
  inFlight: number;
  /** Sending stopped until resume(), for a moment the test wants quiet. */
  paused: boolean;
}

/** Sends a whole FastCGI request every EVERY_MS from the moment `socket` exists, until stop(). */
function trafficTo(socket: string): { traffic: Traffic; idle(): Promise<void>; stop(): Promise<Traffic> } {
  const traffic: Traffic = {
    sent: 0,
    refused: 0,
    firstRefusedAt: 0,
    lastRefusedAt: 0,
    failed: 0,
    errors: [],
    answeredBy: new Map(),
    inFlight: 0,
    paused: false,
  };
  let running = true;
  const one = async (n: number): Promise<void> => {
    traffic.inFlight++;
    try {
      const reply = await fcgiRequest(`unix:${socket}`, { params: fcgiParams('GET', `/n/${n}`) });
      const response = reply.response();
      if (reply.end === undefined || reply.stdoutEnds !== 1 || response.status !== 200)
        throw new Error(`status ${response.status}, complete ${reply.stdoutEnds === 1}`);
      const pid = response.body.toString();
      traffic.answeredBy.set(pid, (traffic.answeredBy.get(pid) ?? 0) + 1);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ECONNREFUSED' || code === 'ENOENT') {
        if (traffic.refused++ === 0) traffic.firstRefusedAt = Date.now();
        traffic.lastRefusedAt = Date.now();
      } else {
        traffic.failed++;
      }
      if (traffic.errors.length < 5) traffic.errors.push(`#${n}: ${code ?? (error as Error).message}`);
    } finally {
      traffic.inFlight--;
    }
  };
  const pending: Array<Promise<void>> = [];
  const done = (async () => {
    while (running && !existsSync(socket)) await new Promise((r) => setTimeout(r, 1));
    while (running) {
      if (!traffic.paused) pending.push(one(traffic.sent++));
      await new Promise((r) => setTimeout(r, EVERY_MS));
    }
    await Promise.all(pending);
  })();
  return {
    traffic,
    idle: () =>
      until(
        () => traffic.inFlight === 0,
        10_000,
        () => `${traffic.inFlight} requests in flight`,
      ),
    async stop() {
      running = false;
      await done;
      return traffic;
    },
  };
}

const describeTraffic = (t: Traffic): string =>
  `sent ${t.sent}, refused ${t.refused}, failed ${t.failed}, answered by ${[...t.answeredBy.values()].join('/')}` +
  (t.errors.length > 0 ? `; first errors: ${t.errors.join(', ')}` : '');

/**
 * Waits until a request answered by a process not in `before` (a new worker took over). `logs`, the
 * daemons' logs, go into the failure.
 */
function answeredByNewcomer(
  traffic: Traffic,
  before: ReadonlySet<string>,
  logs: () => string = () => '',
): Promise<void> {
  return until(
    () => [...traffic.answeredBy.keys()].some((pid) => !before.has(pid)),
    20_000,
    () => `no answer from a new worker: ${describeTraffic(traffic)}\n${logs()}`,
  );
}

function logged(daemon: Daemon, msg: string): number {
  return daemon.logLines().filter((line) => line.msg === msg).length;
}

describe('a socket that exists accepts', () => {
  jest.setTimeout(60_000);

  test('through the start, the crash of the only worker and a reload: nothing refused, every request a 200', async () => {
    const socket = tempSocketPath('accepts.sock');
    const loop = trafficTo(socket);
    const daemon = await startDaemon(APP, ['--fastcgi', `unix:${socket}`, '--workers', '1'], {
      env: { SLUICE_TEST_LOAD_MS: String(LOAD_MS) },
    });
    try {
      // Requests went out while the only worker was loading the app: they waited for it.
      const duringStart = loop.traffic.sent;
      expect(duringStart).toBeGreaterThan(0);
      await answeredByNewcomer(loop.traffic, new Set(), () => daemon.logs());

      // kill -9 of the only worker: requests sent from then on wait for its successor. The crash
      // comes between requests, since one in flight when a process is killed is lost with it.
      const started = daemon.logLines().filter((line) => line.msg === 'worker started');
      const first = String(started[0].workerPid);
      loop.traffic.paused = true;
      await loop.idle();
      process.kill(Number(first), 'SIGKILL');
      loop.traffic.paused = false;
      const sentAtCrash = loop.traffic.sent;
      await answeredByNewcomer(loop.traffic, new Set([first]), () => daemon.logs());
      expect(loop.traffic.sent - sentAtCrash).toBeGreaterThan(LOAD_MS / EVERY_MS / 4);

      // A reload: the old worker serves until the new one does, then finishes what it has.
      const before = new Set(loop.traffic.answeredBy.keys());
      process.kill(daemon.pid, 'SIGHUP');
      await until(
        () => logged(daemon, 'reloaded') === 1,
        20_000,
        () => daemon.logs(),
      );
      await answeredByNewcomer(loop.traffic, before, () => daemon.logs());
    } finally {
      const traffic = await loop.stop();
      expect(await daemon.stop()).toBe(0);
      console.log(`start, crash, reload: ${describeTraffic(traffic)}`);
      expect(traffic).toMatchObject({ refused: 0, failed: 0 });
    }
    expect(existsSync(socket)).toBe(false);
  });

  test.each([['1'], ['0']])(
    'a daemon started as the one on its path stops (--workers %s) takes the path over; the stopping one drains and leaves it',
    async (workers) => {
      const socket = tempSocketPath('restart.sock');
      const args = ['--fastcgi', `unix:${socket}`, '--workers', workers];
      const env = { SLUICE_TEST_LOAD_MS: String(LOAD_MS) };
      const old = await startDaemon(APP, args, { env });
      const loop = trafficTo(socket);
      let successor: Daemon | null = null;
      try {
        await answeredByNewcomer(loop.traffic, new Set(), () => old.logs());
        const release = `${socket}.done`;
        const inFlight = fcgiRequest(
          `unix:${socket}`,
          { params: fcgiParams('GET', `/slow?${release}`) },
          30_000,
        );
        await until(
          () => old.logs().includes('slow request begun'),
          10_000,
          () => old.logs(),
        );
        const before = new Set(loop.traffic.answeredBy.keys());
        process.kill(old.pid, 'SIGTERM');
        successor = await startDaemon(APP, args, { env });
        const successorReady = Date.now();
        // The request the old daemon had when told to stop is finished, not cut, after the successor
        // took the path over.
        writeFileSync(release, '');
        expect((await inFlight).response().status).toBe(200);
        expect((await old.exited).code).toBe(0);
        // The old daemon removed its file before closing its listeners; the successor renamed its own in.
        expect(logged(old, 'socket file removed')).toBe(1);
        const started = successor;
        await answeredByNewcomer(
          loop.traffic,
          before,
          () => `old daemon:\n${old.logs()}\nsuccessor:\n${started.logs()}`,
        );
        expect(existsSync(socket)).toBe(true);
        const traffic = await loop.stop();
        console.log(`restart with --workers ${workers}: ${describeTraffic(traffic)}`);
        // Refused only while neither listened: between the old one's stop and the new socket's rename.
        expect(traffic.failed).toBe(0);
        expect(traffic.lastRefusedAt).toBeLessThanOrEqual(successorReady);
      } finally {
        await loop.stop();
        await old.stop();
        if (successor !== null) expect(await successor.stop()).toBe(0);
      }
      expect(existsSync(socket)).toBe(false);
    },
  );

  test('a daemon started while the one on its path is in its --stop-grace waits for it, then takes the path over at once', async () => {
    const socket = tempSocketPath('grace.sock');
    const args = ['--fastcgi', `unix:${socket}`, '--workers', '1', '--ping-path', '/ping'];
    const env = { SLUICE_TEST_LOAD_MS: String(LOAD_MS) };
    const old = await startDaemon(APP, [...args, '--stop-grace', '1500'], { env });
    const loop = trafficTo(socket);
    let successor: Daemon | null = null;
    try {
      await answeredByNewcomer(loop.traffic, new Set(), () => old.logs());
      const before = new Set(loop.traffic.answeredBy.keys());
      process.kill(old.pid, 'SIGTERM');
      await until(
        () => old.logs().includes('stop grace'),
        10_000,
        () => old.logs(),
      );
      // Started during the old daemon's grace, while its socket still answers: once no longer a
      // "path in use" error, it waits for the old listeners to close and renames its own over the path.
      successor = await startDaemon(APP, args, { env });
      expect((await old.exited).code).toBe(0);
      const started = successor;
      await answeredByNewcomer(
        loop.traffic,
        before,
        () => `old daemon:\n${old.logs()}\nsuccessor:\n${started.logs()}`,
      );
      const traffic = await loop.stop();
      console.log(`restart during --stop-grace: ${describeTraffic(traffic)}`);
      // What the old listeners had queued was accepted before they closed: nothing was reset.
      expect(traffic.failed).toBe(0);
      // Nothing is refused during the grace; at most the instant between the old file's removal and
      // the next probe's rename (docs/deploy.md).
      expect(traffic.lastRefusedAt - traffic.firstRefusedAt).toBeLessThan(250);
      // The old daemon removed its file before closing its listeners; the successor renamed its own in.
      expect(logged(old, 'socket file removed')).toBe(1);
    } finally {
      await loop.stop();
      await old.stop();
      if (successor !== null) expect(await successor.stop()).toBe(0);
    }
  });

  test.each([['0'], ['1']])(
    "connections waiting in the listener's queue when a stop begins are served, not reset (--workers %s)",
    async (workers) => {
      const socket = tempSocketPath('queued.sock');
      const daemon = await startDaemon(APP, ['--fastcgi', `unix:${socket}`, '--workers', workers], {
        env: { SLUICE_TEST_LOAD_MS: '0' },
      });
      const release = `${socket}.go`;
      const blocking = fcgiRequest(
        `unix:${socket}`,
        { params: fcgiParams('GET', `/block?${release}`) },
        30_000,
      );
      const queued: FastCgiClient[] = [];
      try {
        await until(
          () => daemon.logs().includes('blocking request begun'),
          10_000,
          () => daemon.logs(),
        );
        // The only process that accepts is blocked: these connect and send into the listener's queue.
        for (let i = 0; i < QUEUED; i++) queued.push(await FastCgiClient.connect(`unix:${socket}`));
        const replies = queued.map((client, i) =>
          client.request(1, { params: fcgiParams('GET', `/queued/${i}`) }, 30_000),
        );
        process.kill(daemon.pid, 'SIGTERM');
        // With workers, the primary takes the file away before telling the blocked worker to stop.
        if (workers !== '0') {
          await until(
            () => logged(daemon, 'socket file removed') === 1,
            10_000,
            () => daemon.logs(),
          );
          expect(existsSync(socket)).toBe(false);
        }
        writeFileSync(release, '');
        expect((await blocking).response().status).toBe(200);
        const statuses = await Promise.all(
          replies.map((reply) =>
            reply.then(
              (r) => r.response().status,
              (e: Error) => e.message,
            ),
          ),
        );
        expect(statuses).toEqual(Array(QUEUED).fill(200));
        expect((await daemon.exited).code).toBe(0);
        expect(logged(daemon, 'socket file removed')).toBe(1);
        expect(existsSync(socket)).toBe(false);
      } finally {
        for (const client of queued) client.destroy();
        writeFileSync(release, '');
        await daemon.stop();
      }
    },
  );

  test('a TCP port another server listens on is a start-up error, not a listener on a random port', async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as net.AddressInfo;
    try {
      await expect(startDaemon(APP, ['--fastcgi', `127.0.0.1:${port}`])).rejects.toThrow(
        /exited \(code 2[^]*EADDRINUSE/,
      );
    } finally {
      busy.close();
    }
  });
});
