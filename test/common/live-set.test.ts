// LiveSet: the unordered collection the daemon tracks connections in.
import { LiveSet } from '../../src/common/live-set';

const sorted = (values: number[]): number[] => [...values].sort((a, b) => a - b);

describe('LiveSet', () => {
  test('holds what was added until its remover is called', () => {
    const set = new LiveSet<number>();
    const removers = [1, 2, 3, 4].map((n) => set.add(n));
    expect(set.size).toBe(4);
    removers[1]();
    expect(set.size).toBe(3);
    expect(sorted(set.values())).toEqual([1, 3, 4]);
  });

  test('removing the last, the first and the only entry', () => {
    const set = new LiveSet<string>();
    const a = set.add('a');
    const b = set.add('b');
    const c = set.add('c');
    c();
    expect(set.values().sort()).toEqual(['a', 'b']);
    a();
    expect(set.values()).toEqual(['b']);
    b();
    expect(set.size).toBe(0);
    expect(set.values()).toEqual([]);
  });

  test('a remover called again removes nothing else', () => {
    const set = new LiveSet<number>();
    const first = set.add(1);
    set.add(2);
    first();
    first();
    expect(set.values()).toEqual([2]);
    // The moved entry's slot is still right: removing it empties the set.
    const third = set.add(3);
    third();
    third();
    expect(set.values()).toEqual([2]);
  });

  test('the same value added twice is two entries', () => {
    const set = new LiveSet<string>();
    const one = set.add('x');
    set.add('x');
    one();
    expect(set.values()).toEqual(['x']);
  });

  test('values() is a copy: entries removed and added while it is visited', () => {
    const set = new LiveSet<number>();
    const removers = new Map<number, () => void>();
    for (let n = 0; n < 5; n++) removers.set(n, set.add(n));
    const seen: number[] = [];
    for (const n of set.values()) {
      seen.push(n);
      removers.get(n)?.();
      set.add(n + 100);
    }
    expect(sorted(seen)).toEqual([0, 1, 2, 3, 4]);
    expect(sorted(set.values())).toEqual([100, 101, 102, 103, 104]);
  });

  test('many entries removed in random order leave exactly the rest', () => {
    const set = new LiveSet<number>();
    const removers = Array.from({ length: 500 }, (_, n) => set.add(n));
    // A fixed permutation (multiplication by a unit mod 500): every index once, out of order.
    const order = Array.from({ length: 500 }, (_, i) => (i * 7) % 500);
    const kept = new Set<number>(order.slice(300));
    for (const n of order.slice(0, 300)) removers[n]();
    expect(set.size).toBe(200);
    expect(sorted(set.values())).toEqual([...kept].sort((a, b) => a - b));
  });
});
