import { CrashHistory, MAX_DELAY_MS } from '../../../src/process/supervisor/backoff';

describe('CrashHistory', () => {
  test('delays double from 100 ms; the fifth death within 10 s is a crash loop', () => {
    const history = new CrashHistory();
    const delays = [0, 1000, 2000, 3000].map((t) => history.died(t, 500));
    expect(delays).toEqual([100, 200, 400, 800]);
    expect(history.died(4000, 500)).toBeNull();
    expect(history.crashLoop).toBe(true);
    expect(history.restarts).toBe(4);
  });

  test('deaths spread over more than 10 s keep doubling up to 10 s, never a loop', () => {
    const history = new CrashHistory();
    const delays = Array.from({ length: 12 }, (_, i) => history.died(i * 3000, 1000));
    expect(delays.every((d) => d !== null)).toBe(true);
    expect(delays.at(-1)).toBe(MAX_DELAY_MS);
    expect(history.crashLoop).toBe(false);
  });

  test('a worker that lived through a whole window starts the backoff again; reset() clears a loop', () => {
    const history = new CrashHistory();
    history.died(0, 100);
    history.died(1000, 100);
    expect(history.died(60_000, 30_000)).toBe(100);
    for (let t = 70_000; !history.crashLoop; t += 100) history.died(t, 50);
    history.reset();
    expect(history.crashLoop).toBe(false);
    expect(history.died(100_000, 50)).toBe(100);
  });
});
