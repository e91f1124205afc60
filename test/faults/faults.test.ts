// The fault suite: every scenario in scenarios.ts against a daemon serving alone and one with two
// workers, normal traffic going on throughout. Short by default; `npm run faults` runs the full
// counts and writes the figures (docs/security.md, "Fault injection").
import { openFileLimit } from '../../src/process/descriptors';
import {
  baselineOf,
  FULL,
  publish,
  runScenario,
  startTarget,
  type FaultTarget,
  type ScenarioReport,
} from './harness';
import { SCENARIOS } from './scenarios';

const reports: ScenarioReport[] = [];
afterAll(() => publish(reports));

// The concurrent scenario holds thousands of connections, each a descriptor here and one there.
const limit = openFileLimit();
if (limit !== null && limit < (FULL ? 8192 : 4096))
  throw new Error(`the fault suite needs ulimit -n of ${FULL ? 8192 : 4096} or more, not ${limit}`);

describe.each([
  ['one process', 0],
  ['two workers', 2],
])('faults against %s', (mode, workers) => {
  let target: FaultTarget;
  let baseline: Awaited<ReturnType<typeof baselineOf>>;
  beforeAll(async () => {
    target = await startTarget(workers);
    baseline = await baselineOf(target);
  }, 60_000);
  afterAll(async () => {
    expect(await target?.daemon.stop()).toBe(0);
  });

  test.each(SCENARIOS.map((s) => [s.name, s] as const))(
    '%s: answered as it should be, then back to its baseline',
    async (_name, scenario) => {
      reports.push(await runScenario(mode, target, baseline, scenario));
    },
    FULL ? 600_000 : 90_000,
  );
});
