// A pool of sluice hosts behind nginx and behind HAProxy, in network namespaces (test/multihost/
// rig.ts): what clients see when a host stops, crashes, is cut off or reloads, and when the front
// end adds one. Runs as root; elsewhere skipped with a warning, and a failure under CI=true.
// The figures table it prints is the one docs/deploy.md quotes.
import { figuresTable, Rig, rigAvailable } from './rig';
import type { Tally } from './load';

const RESTART_RUNS = Number(process.env.SLUICE_RIG_RESTART_RUNS ?? 10);
const describeRig = rigAvailable() ? describe : describe.skip;

describeRig('several sluice hosts behind one front end', () => {
  const rig = new Rig();

  beforeAll(() => rig.start(), 60_000);
  afterAll(async () => {
    await rig.remove();
    if (rig.figures.length > 0) console.log(`multi-host rig figures:\n${figuresTable(rig.figures)}`);
  }, 60_000);

  test('--allow: a peer in a third namespace connecting to a host directly is refused and logged', async () => {
    const { status, refusals } = await rig.strangerRequest();
    expect(status).not.toBe(0);
    expect(refusals).toEqual([expect.objectContaining({ remote: rig.network.address('peer') })]);
  }, 30_000);

  describe.each(['nginx', 'haproxy'] as const)('%s', (name) => {
    beforeAll(() => rig.useFrontEnd(name), 30_000);

    test('both hosts serve and share the load', async () => {
      const figure = await rig.share();
      expect(figure.failures).toEqual({});
      for (const host of ['h1', 'h2']) expect(figure.share[host]).toBeGreaterThan(figure.requests / 4);
    }, 60_000);

    test(`a rolling restart (SIGTERM of each host in turn) fails no request in at least ${RESTART_RUNS - 1} runs of ${RESTART_RUNS}`, async () => {
      const runs: Tally[] = [];
      for (let run = 0; run < RESTART_RUNS; run++) runs.push(await rig.rollingRestart());
      const failed = runs.filter((run) => run.failedGets + run.failedPosts > 0);
      const total = runs.reduce((sum, run) => sum + run.requests, 0);
      const failures: Record<string, number> = {};
      for (const run of runs)
        for (const [kind, n] of Object.entries(run.failures)) failures[kind] = (failures[kind] ?? 0) + n;
      rig.figures.push({
        frontEnd: name,
        scenario: `rolling restart (SIGTERM) x${RESTART_RUNS}`,
        requests: total,
        gets: runs.reduce((sum, run) => sum + run.gets, 0),
        posts: runs.reduce((sum, run) => sum + run.posts, 0),
        failedGets: runs.reduce((sum, run) => sum + run.failedGets, 0),
        failedPosts: runs.reduce((sum, run) => sum + run.failedPosts, 0),
        failures,
        share: {},
        note: `${RESTART_RUNS - failed.length}/${RESTART_RUNS} runs clean`,
      });
      expect(runs.every((run) => run.failedGets === 0)).toBe(true);
      expect(failed.length).toBeLessThanOrEqual(1);
    }, 240_000);

    test('a rolling reload (SIGHUP of each host in turn) fails no request', async () => {
      const figure = await rig.rollingReload();
      expect(figure.failures).toEqual({});
    }, 60_000);

    test('a crash (kill -9 of primary and workers) fails no GET and only POSTs in flight', async () => {
      const { figure, postsInFlight, failedAfter } = await rig.crash();
      expect(figure.failedGets).toBe(0);
      expect(failedAfter).toBe(0);
      expect(figure.failedPosts).toBeLessThanOrEqual(postsInFlight);
    }, 90_000);

    test('a partition (link down) is left by the front end, and the host serves again once it is back', async () => {
      const { cut, healed } = await rig.partition();
      expect(cut.share.h2).toBeGreaterThan(0);
      expect(healed.share.h1).toBeGreaterThan(0);
      expect(healed.failures).toEqual({});
    }, 120_000);

    test('a host added by a graceful front-end reload takes traffic', async () => {
      const figure = await rig.addHost();
      expect(figure.share.h3).toBeGreaterThan(0);
      expect(figure.failures).toEqual({});
    }, 60_000);
  });
});
