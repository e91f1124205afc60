// Found by the fault suite: a daemon that went quiet after a burst kept the burst's garbage (and
// its resident memory near the peak) for as long as it stayed quiet, because the engine collects
// only while allocating. It now collects once when idle. How much memory that gives back depends on
// what held it (docs/security.md, "Fault injection"); that it happens, once per quiet spell, is
// checked here.
import { startDaemon } from '../helpers/daemon';
import { until } from '../helpers/fastcgi';
import { residentBytes, MiB } from '../helpers/process-resources';
import { requestVariables, scgiRequest } from '../helpers/scgi';

test('a daemon gone idle after a streaming burst collects its garbage once', async () => {
  const daemon = await startDaemon('test/fixtures/apps/probe.mjs', [
    ...['--workers', '0', '--scgi', '127.0.0.1:0', '--log-level', 'debug'],
  ]);
  try {
    const address = daemon.addresses.scgi![0];
    const bytes = 8 * MiB;
    const responses = await Promise.all(
      Array.from({ length: 24 }, () =>
        scgiRequest(address, requestVariables('GET', `/stream?bytes=${bytes}`), undefined, 30_000),
      ),
    );
    expect(responses.map((r) => r.body.length)).toEqual(Array(24).fill(bytes));
    const peak = residentBytes(daemon.pid);
    const collected = (): Array<Record<string, unknown>> =>
      daemon.logLines().filter((l) => l.msg === 'idle: garbage collected');
    await until(
      () => collected().length > 0,
      5000,
      () => `no idle collection; RSS ${peak / MiB} MiB`,
    );
    // Once per quiet spell: still quiet, it does not collect again.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(collected()).toHaveLength(1);
    expect((await scgiRequest(address, requestVariables('GET', '/env'))).status).toBe(200);
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
}, 60_000);
