// Running out of file descriptors (a low `ulimit -n`): accepting pauses short of the limit and
// resumes once connections close, one log line each way per episode. A worker's connections wait in
// the listen queue meanwhile; a process serving alone closes them. Nothing crashes, and the
// descriptors open afterwards are those open before.
import { activate, stopActivated } from '../helpers/activate';
import { fcgiParams, fcgiRequest, until } from '../helpers/fastcgi';
import { requireBinary } from '../helpers/frontends';
import { startDaemon, tempSocketPath, type Daemon } from '../helpers/daemon';
import { descriptorsBackTo, settledDescriptors } from '../helpers/process-resources';
import { requestVariables, scgiRequest } from '../helpers/scgi';

const PROBE = 'test/fixtures/apps/probe.mjs';
/** A Node process holds about 20 descriptors of its own: this leaves room for about 50 connections. */
const OPEN_FILES = 80;
/** Three times what fits: accepting pauses and resumes more than once. */
const CONCURRENT = 150;
const SLOW = '/slow?ms=800';
const STATUS = ['--status-path', '/sluice-status'];

type LogLines = () => Array<Record<string, unknown>>;

function messages(lines: LogLines, prefix: string): Array<Record<string, unknown>> {
  return lines().filter((l) => typeof l.msg === 'string' && l.msg.startsWith(prefix));
}

/** The 'accepting resumed' lines once there are `count`: the last pause ends a count after the last response. */
async function resumedLines(lines: LogLines, count: number): Promise<Array<Record<string, unknown>>> {
  const deadline = Date.now() + 5_000;
  while (messages(lines, 'accepting resumed').length < count && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  return messages(lines, 'accepting resumed');
}

/**
 * CONCURRENT slow requests at once, a third of them FastCGI, through a worker: every one is
 * answered, accepting having paused and resumed; then a normal request on each protocol is too,
 * and the worker is back to the descriptors it had.
 */
async function overloadWorker(lines: LogLines, scgi: string, fastcgi: string): Promise<void> {
  const worker = Number(messages(lines, 'worker started')[0].workerPid);
  expect(await scgiStatus(scgi, '/env')).toBe(200);
  const baseline = await settledDescriptors(worker);

  const statuses = await Promise.all(
    Array.from({ length: CONCURRENT }, (_, i) =>
      i % 3 === 2 ? fastCgiStatus(fastcgi, SLOW) : scgiStatus(scgi, SLOW),
    ),
  );

  expect(tally(statuses)).toEqual({ 200: CONCURRENT });
  const paused = messages(lines, 'out of file descriptors: accepting paused');
  const resumed = await resumedLines(lines, paused.length);
  // An episode is logged once, not once per connection it held back.
  expect(paused.length).toBeGreaterThanOrEqual(1);
  expect(paused.length).toBeLessThanOrEqual(CONCURRENT / 20);
  expect(resumed).toHaveLength(paused.length);
  expect(paused[0]).toMatchObject({ level: 40, limit: OPEN_FILES, worker: 1 });
  expect(resumed.every((l) => l.closed === 0)).toBe(true);
  expect(await scgiStatus(scgi, '/env')).toBe(200);
  expect(await fastCgiStatus(fastcgi, '/env')).toBe(200);
  expect(await descriptorsBackTo(worker, baseline)).toBeLessThanOrEqual(baseline);
  expect(messages(lines, 'worker exited')).toEqual([]);
  expect(await totals(scgi)).toMatchObject({ descriptorPauses: paused.length, descriptorRefused: 0 });
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text.split('\n').flatMap((line) => {
    try {
      const value: unknown = JSON.parse(line);
      return typeof value === 'object' && value !== null ? [value as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}

/** The status of one SCGI request, or 'closed' when the daemon closed the connection unanswered. */
async function scgiStatus(address: string, uri: string): Promise<number | 'closed'> {
  try {
    return (await scgiRequest(address, requestVariables('GET', uri), undefined, 20_000)).status;
  } catch (error) {
    if (/timed? ?out|no close within/i.test(String(error))) throw error;
    return 'closed';
  }
}

async function fastCgiStatus(address: string, uri: string): Promise<number> {
  const reply = await fcgiRequest(address, { params: fcgiParams('GET', uri), keepConn: false }, 20_000);
  return reply.response().status;
}

/** The daemon's summed counters, from its status path. */
async function totals(scgi: string): Promise<Record<string, number>> {
  const response = await scgiRequest(scgi, requestVariables('GET', '/sluice-status'));
  return (JSON.parse(response.body.toString()) as { totals: Record<string, number> }).totals;
}

function tally(statuses: Array<number | 'closed'>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

describe(`out of file descriptors (ulimit -n ${OPEN_FILES})`, () => {
  let daemon: Daemon | undefined;
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
  });

  test(`a worker pauses accepting: all ${CONCURRENT} concurrent requests wait their turn and are answered`, async () => {
    const scgi = tempSocketPath('scgi.sock');
    const fastcgi = tempSocketPath('fastcgi.sock');
    daemon = await startDaemon(
      PROBE,
      ['--workers', '1', '--scgi', `unix:${scgi}`, '--fastcgi', `unix:${fastcgi}`, ...STATUS],
      { openFiles: OPEN_FILES },
    );
    await overloadWorker(() => daemon!.logLines(), scgi, fastcgi);
  }, 60_000);

  (requireBinary('systemd-socket-activate') ? test : test.skip)(
    'a worker on sockets systemd passed pauses and gets them back from the primary',
    async () => {
      const scgi = tempSocketPath('scgi.sock');
      const fastcgi = tempSocketPath('fastcgi.sock');
      const { child, logs } = activate(
        ['-l', scgi, '--fdname=scgi', '-l', fastcgi, '--fdname=fastcgi'],
        ['--workers', '1', '--log-level', 'info', ...STATUS],
        OPEN_FILES,
      );
      try {
        await until(() => (logs().match(/Listening on/g) ?? []).length === 2, 5000, logs);
        // The first connection starts sluice; it waits in the listen queue meanwhile.
        expect((await scgiRequest(scgi, requestVariables('GET', '/env'), undefined, 15_000)).status).toBe(
          200,
        );
        await until(() => logs().includes('"msg":"ready"'), 5000, logs);
        await overloadWorker(() => jsonLines(logs()), scgi, fastcgi);
      } finally {
        expect(await stopActivated(child)).toBe(0);
      }
    },
    60_000,
  );

  test('a process serving alone closes what it cannot hold, then serves again', async () => {
    const scgi = tempSocketPath('scgi.sock');
    daemon = await startDaemon(PROBE, ['--workers', '0', '--scgi', `unix:${scgi}`, ...STATUS], {
      openFiles: OPEN_FILES,
    });
    expect(await scgiStatus(scgi, '/env')).toBe(200);
    const baseline = await settledDescriptors(daemon.pid);

    const counts = tally(await Promise.all(Array.from({ length: CONCURRENT }, () => scgiStatus(scgi, SLOW))));

    expect(Object.keys(counts).sort()).toEqual(['200', 'closed']);
    expect(counts[200]).toBeGreaterThanOrEqual(OPEN_FILES / 2);
    const lines = (): Array<Record<string, unknown>> => daemon!.logLines();
    const paused = messages(lines, 'out of file descriptors: new connections are closed');
    const resumed = await resumedLines(lines, paused.length);
    expect(paused.length).toBeGreaterThanOrEqual(1);
    expect(resumed).toHaveLength(paused.length);
    // Every connection the client saw closed unanswered is one the daemon says it closed.
    expect(resumed.reduce((sum, l) => sum + Number(l.closed), 0)).toBe(counts.closed);
    expect(await totals(scgi)).toMatchObject({
      descriptorPauses: paused.length,
      descriptorRefused: counts.closed,
    });
    expect(await scgiStatus(scgi, '/env')).toBe(200);
    expect(await descriptorsBackTo(daemon.pid, baseline)).toBeLessThanOrEqual(baseline);
    expect(daemon.child.exitCode).toBeNull();
  }, 60_000);
});
