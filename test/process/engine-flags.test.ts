import { tuneEngine, workerExecArgv, WORKER_INITIAL_OLD_SPACE_MB } from '../../src/process/engine-flags';

function run(execArgv: string[]) {
  const set: string[] = [];
  const tuned = tuneEngine((flags) => set.push(flags), execArgv);
  return { tuned, set };
}

test('turns allocation-site pretenuring off', () => {
  expect(run(['--enable-source-maps'])).toEqual({
    tuned: true,
    set: ['--no-allocation-site-pretenuring'],
  });
});

test.each([
  ['--allocation-site-pretenuring'],
  ['--no-allocation-site-pretenuring'],
  ['--allocation_site_pretenuring'],
  ['--no_allocation_site_pretenuring'],
])('leaves it as the node command line set it: %s', (flag) => {
  expect(run(['--max-old-space-size=512', flag])).toEqual({ tuned: false, set: [] });
});

describe("a worker's node command line", () => {
  test("is the primary's with the old generation's first limit added", () => {
    expect(workerExecArgv(['--enable-source-maps'])).toEqual([
      '--enable-source-maps',
      `--initial-old-space-size=${WORKER_INITIAL_OLD_SPACE_MB}`,
    ]);
    expect(workerExecArgv([])).toEqual([`--initial-old-space-size=${WORKER_INITIAL_OLD_SPACE_MB}`]);
  });

  test.each([
    ['--initial-old-space-size=32'],
    ['--initial_old_space_size=32'],
    ['--initial-heap-size=128'],
    ['--initial_heap_size=128'],
  ])("is left as the primary's when it sizes the heap's start itself: %s", (flag) => {
    expect(workerExecArgv(['--max-old-space-size=512', flag])).toEqual(['--max-old-space-size=512', flag]);
  });

  test("leaves other heap flags alone and keeps the primary's list unchanged", () => {
    const primary = ['--max-old-space-size=512', '--max-semi-space-size=4'];
    expect(workerExecArgv(primary)).toEqual([
      ...primary,
      `--initial-old-space-size=${WORKER_INITIAL_OLD_SPACE_MB}`,
    ]);
    expect(primary).toEqual(['--max-old-space-size=512', '--max-semi-space-size=4']);
  });
});
