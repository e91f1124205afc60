import { tuneEngine } from '../../src/process/engine-flags';

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
