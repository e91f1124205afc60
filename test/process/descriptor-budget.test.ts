import { DescriptorBudget } from '../../src/process/descriptor-budget';
import { parseOpenFileLimit } from '../../src/process/descriptors';

describe('DescriptorBudget', () => {
  test('keeps a sixteenth of the limit in reserve, at least 8 and at most 1024', () => {
    expect(new DescriptorBudget(80).reserve).toBe(8);
    expect(new DescriptorBudget(1024).reserve).toBe(64);
    expect(new DescriptorBudget(1_048_576).reserve).toBe(1024);
  });

  test('pauses a reserve short of the limit and resumes only two reserves short', () => {
    const budget = new DescriptorBudget(1024);
    expect([budget.pauseAt, budget.resumeAt]).toEqual([960, 896]);
    const changes = [100, 959, 960, 1024, 961, 897, 896, 959, 960].map((open) => budget.observe(open));
    expect(changes).toEqual([null, null, 'pause', null, null, null, 'resume', null, 'pause']);
    expect(budget.isPaused).toBe(true);
  });

  test('no count at all (EMFILE while counting) is out of descriptors', () => {
    expect(new DescriptorBudget(64).observe(Infinity)).toBe('pause');
  });
});

describe('parseOpenFileLimit', () => {
  const limits = (soft: string, hard: string): string =>
    [
      'Limit                     Soft Limit           Hard Limit           Units     ',
      'Max processes             95534                95534                processes ',
      `Max open files            ${soft.padEnd(21)}${hard.padEnd(21)}files     `,
      'Max locked memory         8388608              8388608              bytes     ',
    ].join('\n');

  test('reads the soft limit', () => {
    expect(parseOpenFileLimit(limits('1024', '524288'))).toBe(1024);
  });

  test('unlimited, missing or nonsense is no limit to keep to', () => {
    expect(parseOpenFileLimit(limits('unlimited', 'unlimited'))).toBeNull();
    expect(parseOpenFileLimit('Limit  Soft Limit  Hard Limit  Units\n')).toBeNull();
    expect(parseOpenFileLimit(limits('0', '0'))).toBeNull();
  });
});
