// Workers under a primary: a worker killed under load is replaced and only its requests fail;
// crash loops end the daemon with code 3; --max-requests recycles without a failed request; the
// status and ping paths; the access log.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon';
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
  const log = (m: string) => process.stderr.write(`[dbg ${Date.now() % 100000}] ${m} ${JSON.stringify(loops?.map((l) => [l.result.sent, l.result.failed, l.result.errors]))}\n`);
  // eslint-disable-next-line prefer-const
  let loops: ReturnType<typeof scgiLoop>[] = [];
  loops = [
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
    log('under way');
    const before = (await status(daemon)).json();
    log('status');
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
    log('restarted');
    const sent = loops.map((l) => l.result.sent);
    await until(
      () => loops.every((l, i) => l.result.sent > sent[i] + 50),
      10_000,
      () => 'loops going on',
    );
    log('going on');
    const results = await Promise.all(loops.map((l) => l.stop()));
    const failed = results.reduce((n, r) => n + r.failed, 0);
    // At most the requests in flight on the killed worker: one per loop.
    expect(failed).toBeLessThanOrEqual(loops.length);
    log('stopped loops');
    const after = (await status(daemon)).json();
    expect(after.restarts).toBe(1);
    expect(after.workers.map((w: { pid: number }) => w.pid)).not.toContain(victim);
    expect(after.workers).toHaveLength(2);
  } finally {
    log('finally');
    await Promise.all(loops.map((l) => l.stop()));
    log('loops stopped');
    expect(await daemon.stop()).toBe(0);
    log('daemon stopped');
  }
}, 40_000);
