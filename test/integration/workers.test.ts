// Workers under a primary: a worker killed under load is replaced and only its requests fail;
// crash loops end the daemon with code 3; --max-requests recycles without a failed request; the
// status and ping paths; the access log; the workers' node command line.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WORKER_INITIAL_OLD_SPACE_MB } from '../../src/process/engine-flags';
import { startDaemon, tempSocketPath, type Daemon } from '../helpers/daemon';
import { until } from '../helpers/fastcgi';
import { fastcgiLoop, scgiLoop } from '../helpers/loops';
import { requestVariables, scgiRequest } from '../helpers/scgi';

const APP = 'test/fixtures/apps/versioned.mjs';

function versionFile(): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-version-')), 'version');
  fs.writeFileSync(file, 'v1');
  return file;
}

async function status(
  daemon: Daemon,
  query = '',
): Promise<{ text: string; json: () => ReturnType<typeof JSON.parse> }> {
  const response = await scgiRequest(
    daemon.addresses.scgi![0],
    requestVariables('GET', '/sluice-status' + query),
  );
  expect(response.status).toBe(200);
  const text = response.body.toString();
  return { text, json: () => JSON.parse(text) };
}

test('kill -9 of a worker under load: only its requests in flight fail, a new worker takes over', async () => {
  const daemon = await startDaemon(
    APP,
    [
      '--workers',
      '2',
      '--scgi',
      '127.0.0.1:0',
      '--fastcgi',
      '127.0.0.1:0',
      '--status-path',
      '/sluice-status',
    ],
    { env: { SLUICE_TEST_VERSION_FILE: versionFile() } },
  );
  const loops = [
    scgiLoop(daemon.addresses.scgi![0]),
    scgiLoop(daemon.addresses.scgi![0]),
    fastcgiLoop(daemon.addresses.fastcgi![0]),
  ];
  try {
    await until(
      () => loops.every((l) => l.result.sent > 50),
      10_000,
      () => 'loops under way',
    );
    const before = (await status(daemon)).json();
    const victim = before.workers[0].pid as number;
    process.kill(victim, 'SIGKILL');
    await until(
      () =>
        daemon
          .logLines()
          .some(
            (l) =>
              l.msg === 'worker started' &&
              (l.slot as number) === before.workers[0].slot &&
              l.workerPid !== victim,
          ),
      5000,
      () => daemon.logs(),
    );
    const sent = loops.map((l) => l.result.sent);
    await until(
      () => loops.every((l, i) => l.result.sent > sent[i] + 50),
      10_000,
      () => 'loops going on',
    );
    const results = await Promise.all(loops.map((l) => l.stop()));
    const failed = results.reduce((n, r) => n + r.failed, 0);
    // At most the requests in flight on the killed worker: one per loop.
    expect(failed).toBeLessThanOrEqual(loops.length);
    // The new worker logs its start before the primary lists it: wait until the status shows it.
    let after = (await status(daemon)).json();
    const deadline = Date.now() + 10_000;
    while (after.workers.length < 2 && Date.now() < deadline) after = (await status(daemon)).json();
    expect(after.restarts).toBe(1);
    expect(after.workers.map((w: { pid: number }) => w.pid)).not.toContain(victim);
    expect(after.workers).toHaveLength(2);
  } finally {
    await Promise.all(loops.map((l) => l.stop()));
    expect(await daemon.stop()).toBe(0);
  }
}, 40_000);

test('workers accept their own connections: the TCP listening socket is open in every worker', async () => {
  // node:cluster freezes its scheduling policy in setupPrimary(); set after it, round robin stayed,
  // the primary accepted every connection, and one accepted for a worker killed meanwhile hung.
  const daemon = await startDaemon(
    APP,
    ['--workers', '2', '--scgi', '127.0.0.1:0', '--status-path', '/sluice-status'],
    {
      env: { SLUICE_TEST_VERSION_FILE: versionFile() },
    },
  );
  try {
    const port = daemon.addresses.scgi![0].split(':').pop();
    const workers = (await status(daemon)).json().workers.map((w: { pid: number }) => w.pid) as number[];
    const listening = execFileSync('ss', ['-Htlnp', `sport = :${port}`], { encoding: 'utf8' });
    const holders = [...listening.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
    for (const pid of workers) expect(holders).toContain(pid);
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
});

test.each([
  ['as is', [], `--initial-old-space-size=${WORKER_INITIAL_OLD_SPACE_MB}`],
  [
    'started with its own --initial-old-space-size',
    ['--initial-old-space-size=32'],
    '--initial-old-space-size=32',
  ],
])("workers run with the old generation's first limit raised: %s", async (_label, nodeArgs, expected) => {
  const daemon = await startDaemon(
    'test/fixtures/apps/probe.mjs',
    ['--workers', '1', '--scgi', `unix:${tempSocketPath('engine.sock')}`],
    { nodeArgs },
  );
  try {
    const response = await scgiRequest(daemon.addresses.scgi![0], requestVariables('GET', '/process'));
    const worker = JSON.parse(response.body.toString()) as { pid: number; execArgv: string[] };
    expect(worker.pid).not.toBe(daemon.pid);
    expect(worker.execArgv.filter((arg) => arg.startsWith('--initial-old-space-size'))).toEqual([expected]);
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
});

test('a slot crashing 5 times in 10 s is a crash loop: logged, not restarted, and the daemon exits 3', async () => {
  const daemon = await startDaemon(
    'test/fixtures/apps/crash-after-start.mjs',
    ['--workers', '1', '--scgi', '127.0.0.1:0'],
    {
      env: { SLUICE_TEST_CRASH_AFTER_MS: '200' },
    },
  );
  const { code } = await Promise.race([
    daemon.exited,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(daemon.logs())), 15_000)),
  ]);
  expect(code).toBe(3);
  const lines = daemon.logLines();
  const delays = lines.filter((l) => l.msg === 'worker died: restarting').map((l) => l.restartInMs);
  expect(delays).toEqual([100, 200, 400, 800]);
  expect(lines.some((l) => l.msg === 'worker slot is crash-looping: not restarted')).toBe(true);
}, 20_000);

test('--max-requests recycles workers without a failed request', async () => {
  const daemon = await startDaemon(
    APP,
    [
      '--workers',
      '2',
      '--scgi',
      '127.0.0.1:0',
      '--fastcgi',
      '127.0.0.1:0',
      '--max-requests',
      '60',
      '--status-path',
      '/sluice-status',
    ],
    { env: { SLUICE_TEST_VERSION_FILE: versionFile() } },
  );
  const loops = [scgiLoop(daemon.addresses.scgi![0]), fastcgiLoop(daemon.addresses.fastcgi![0])];
  try {
    await until(
      () => daemon.logLines().filter((l) => l.msg === 'recycling worker').length >= 2,
      15_000,
      () => daemon.logs(),
    );
    const sent = loops.map((l) => l.result.sent);
    await until(
      () => loops.every((l, i) => l.result.sent > sent[i] + 50),
      10_000,
      () => 'loops going on',
    );
    const results = await Promise.all(loops.map((l) => l.stop()));
    expect(results.map((r) => [r.failed, r.errors])).toEqual([
      [0, []],
      [0, []],
    ]);
    expect((await status(daemon)).json().recycles).toBeGreaterThanOrEqual(2);
  } finally {
    await Promise.all(loops.map((l) => l.stop()));
    expect(await daemon.stop()).toBe(0);
  }
}, 40_000);

describe('status, ping and access log', () => {
  let daemon: Daemon;
  let accessLog: string;

  beforeAll(async () => {
    accessLog = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-access-')), 'access.log');
    daemon = await startDaemon(APP, [
      '--workers', '2',
      '--scgi', '127.0.0.1:0',
      '--status-path', '/sluice-status',
      '--ping-path', '/ping',
      '--slow-log-ms', '100',
      '--access-log', accessLog,
    ], { env: { SLUICE_TEST_VERSION_FILE: versionFile() } }); // prettier-ignore
  });

  afterAll(async () => {
    expect(await daemon.stop()).toBe(0);
  });

  test('ping answers pong without the app', async () => {
    const response = await scgiRequest(daemon.addresses.scgi![0], requestVariables('GET', '/ping'));
    expect(response.body.toString()).toBe('pong\n');
  });

  test('JSON status: every worker, summed counters, slow requests', async () => {
    const address = daemon.addresses.scgi![0];
    for (let i = 0; i < 5; i++) await scgiRequest(address, requestVariables('GET', '/x'));
    await scgiRequest(address, requestVariables('GET', '/slow?ms=150'));
    const s = (await status(daemon)).json();
    expect(s).toMatchObject({ mode: 'primary', generation: 1, reloads: 0, restarts: 0, pid: daemon.pid });
    expect(s.workers).toHaveLength(2);
    expect(s.workers.every((w: { state: string }) => w.state === 'serving')).toBe(true);
    expect(s.totals.requests).toBeGreaterThanOrEqual(6);
    expect(s.totals.slow).toBe(1);
    expect(s.totals.active).toBe(1); // the status request itself
    expect(s.listeners[0]).toMatchObject({ protocol: 'scgi', queued: 0 });
    // The log line travels its own pipe: it may arrive after the response.
    await until(
      () => daemon.logLines().some((l) => l.msg === 'slow request' && l.uri === '/slow?ms=150'),
      5000,
      () => daemon.logs(),
    );
  });

  test('Prometheus text: counters per worker and a latency histogram', async () => {
    const { text } = await status(daemon, '?format=prometheus');
    expect(text).toMatch(/^# TYPE sluice_requests_total counter$/m);
    expect(text).toMatch(/^sluice_requests_total\{worker="1",pid="\d+"\} \d+$/m);
    expect(text).toMatch(/^sluice_request_duration_seconds_bucket\{le="\+Inf"\} \d+$/m);
    expect(text).toMatch(/^sluice_uptime_seconds [\d.]+$/m);
  });

  test('the access log has one line per request with method, path, status, bytes, duration, worker', async () => {
    await scgiRequest(daemon.addresses.scgi![0], requestVariables('GET', '/logged?q=1'));
    await until(
      () => fs.existsSync(accessLog) && fs.readFileSync(accessLog, 'utf8').includes('/logged?q=1'),
      3000,
      () => 'no line',
    );
    const line = fs
      .readFileSync(accessLog, 'utf8')
      .split('\n')
      .find((l) => l.includes('/logged?q=1'))!;
    expect(JSON.parse(line)).toMatchObject({
      method: 'GET',
      uri: '/logged?q=1',
      status: 200,
      bytes: expect.any(Number),
      ms: expect.any(Number),
      worker: expect.any(Number),
    });
  });

  test('SIGUSR2 reopens the access log after logrotate moved it', async () => {
    fs.renameSync(accessLog, accessLog + '.1');
    process.kill(daemon.pid, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, 300));
    await scgiRequest(daemon.addresses.scgi![0], requestVariables('GET', '/after-rotate'));
    await until(
      () => fs.existsSync(accessLog) && fs.readFileSync(accessLog, 'utf8').includes('/after-rotate'),
      3000,
      () => 'no new file',
    );
  });
});

test('the status path answers 403 to a front end outside --status-allow, and never reaches the app', async () => {
  const daemon = await startDaemon('test/fixtures/apps/probe.mjs', [
    '--workers',
    '0',
    '--scgi',
    '127.0.0.1:0',
    '--status-path',
    '/sluice-status',
    '--status-allow',
    '10.9.9.9',
  ]);
  try {
    const response = await scgiRequest(daemon.addresses.scgi![0], requestVariables('GET', '/sluice-status'));
    expect(response.status).toBe(403);
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
});

test('totals keep the counters of workers gone, retired by a reload or killed; Unix listen queue shown', async () => {
  const socket = tempSocketPath('scgi.sock');
  const daemon = await startDaemon(
    APP,
    ['--workers', '1', '--scgi', `unix:${socket}`, '--status-path', '/sluice-status'],
    { env: { SLUICE_TEST_VERSION_FILE: versionFile() } },
  );
  const served = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++)
      expect((await scgiRequest(`unix:${socket}`, requestVariables('GET', '/x'))).status).toBe(200);
  };
  try {
    await served(10);
    const first = (await status(daemon)).json();
    expect(first.exited.requests).toBe(0);
    expect(first.totals.requests).toBeGreaterThanOrEqual(10);
    // Unix sockets too: the queue comes from `ss`, 0 when nothing waits, null only when unknown.
    expect(first.listeners[0]).toMatchObject({ address: `unix:${socket}`, queued: 0 });

    process.kill(daemon.pid, 'SIGHUP');
    await until(
      () => daemon.logLines().some((l) => l.msg === 'worker exited'),
      10_000,
      () => daemon.logs(),
    );
    const reloaded = (await status(daemon)).json();
    // The retired worker's final counters: its ten requests and the status request before.
    expect(reloaded.exited.requests).toBe(first.totals.requests + 1);
    expect(reloaded.totals.requests).toBeGreaterThan(first.totals.requests);

    await served(5);
    const beforeKill = (await status(daemon)).json();
    process.kill(beforeKill.workers[0].pid, 'SIGKILL');
    await until(
      () => daemon.logLines().some((l) => l.msg === 'worker died: restarting'),
      10_000,
      () => daemon.logs(),
    );
    await until(
      () => daemon.logLines().filter((l) => l.msg === 'worker started').length >= 3,
      10_000,
      () => daemon.logs(),
    );
    const afterKill = (await status(daemon)).json();
    // Killed without a word: what it reported at the last status request is kept.
    expect(afterKill.exited.requests).toBe(
      reloaded.exited.requests + beforeKill.workers[0].counters.requests,
    );
    expect(afterKill.totals.requests).toBeGreaterThanOrEqual(beforeKill.totals.requests);
    const { text } = await status(daemon, '?format=prometheus');
    expect(text).toContain(`sluice_requests_total{worker="exited"} ${afterKill.exited.requests}\n`);
    expect(text).toMatch(/^sluice_listen_queue\{protocol="scgi",address="unix:[^"]+"\} 0$/m);
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
});

test('with its only worker killed, the daemon keeps its sockets: requests wait for the replacement', async () => {
  const socket = tempSocketPath('scgi.sock');
  const daemon = await startDaemon(
    APP,
    ['--workers', '1', '--scgi', `unix:${socket}`, '--scgi', '127.0.0.1:0'],
    {
      env: { SLUICE_TEST_VERSION_FILE: versionFile() },
    },
  );
  try {
    const [unix, tcp] = daemon.addresses.scgi!;
    const worker = Number(
      (await scgiRequest(unix, requestVariables('GET', '/x'))).body.toString().split(' ')[1],
    );
    process.kill(worker, 'SIGKILL');
    await until(
      () => daemon.logLines().some((l) => l.msg === 'worker died: restarting'),
      5000,
      () => daemon.logs(),
    );
    // Sent while no worker runs: they wait in the backlog of the sockets the primary holds.
    expect(fs.statSync(socket).isSocket()).toBe(true);
    const responses = await Promise.all(
      [unix, tcp].map((a) => scgiRequest(a, requestVariables('GET', '/x'))),
    );
    expect(responses.map((r) => r.status)).toEqual([200, 200]);
    expect(daemon.logLines().filter((l) => l.msg === 'worker started')).toHaveLength(2);
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
  expect(fs.existsSync(socket)).toBe(false);
});
