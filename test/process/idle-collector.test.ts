import { IdleCollector } from '../../src/process/idle-collector';

const MiB = 1024 * 1024;

/** A collector over a fake resident size; `collect` drops it to `afterCollect()`. */
function harness(start: number, afterCollect: () => number) {
  let resident = start;
  let collections = 0;
  const collector = new IdleCollector(
    () => {
      collections++;
      resident = afterCollect();
    },
    () => resident,
    { idleMs: 1000, growthBytes: 8 * MiB },
  );
  return {
    collector,
    grow: (bytes: number) => (resident += bytes),
    get resident() {
      return resident;
    },
    get collections() {
      return collections;
    },
  };
}

test('collects once a second after the last request, when memory grew past the allowance', () => {
  const h = harness(50 * MiB, () => 52 * MiB);
  h.grow(40 * MiB);
  expect(h.collector.tick(0, 3, 10)).toBe(false); // busy
  expect(h.collector.tick(500, 0, 13)).toBe(false); // three finished since the last tick
  expect(h.collector.tick(1000, 0, 13)).toBe(false); // idle, but only for 500 ms
  expect(h.collector.tick(1500, 0, 13)).toBe(true);
  expect(h.resident).toBe(52 * MiB);
  // Idle on: no requests since, nothing to collect again.
  expect(h.collector.tick(5000, 0, 13)).toBe(false);
  expect(h.collections).toBe(1);
});

test('requests that start and finish between ticks keep it busy: never a collection under load', () => {
  const h = harness(50 * MiB, () => 50 * MiB);
  h.grow(30 * MiB);
  for (let t = 0, requests = 0; t < 10_000; t += 1000, requests += 500)
    expect(h.collector.tick(t, 0, requests)).toBe(false);
  expect(h.collections).toBe(0);
});

test('does not pause for a little growth, and looks again only after more requests', () => {
  const h = harness(50 * MiB, () => 50 * MiB);
  h.collector.tick(0, 0, 5);
  h.grow(4 * MiB);
  expect(h.collector.tick(2000, 0, 5)).toBe(false);
  h.grow(8 * MiB);
  expect(h.collector.tick(3000, 0, 5)).toBe(false); // same requests: already judged
  h.collector.tick(4000, 0, 6);
  expect(h.collector.tick(5000, 0, 6)).toBe(true);
});

test('growth counts from the least memory seen idle, not from the last collection', () => {
  // A collection that gives nothing back at once must not raise the bar for the next.
  let next = 60 * MiB;
  const h = harness(50 * MiB, () => next);
  h.collector.tick(0, 0, 1);
  h.grow(20 * MiB);
  expect(h.collector.tick(2000, 0, 1)).toBe(true); // 70 → 60: the floor stays 50
  next = 55 * MiB;
  h.collector.tick(3000, 0, 2);
  expect(h.collector.tick(4000, 0, 2)).toBe(true); // 60 is 10 above the floor
  expect(h.resident).toBe(55 * MiB);
});

test('a request in flight keeps it from collecting however long ago the last one finished', () => {
  const h = harness(50 * MiB, () => 50 * MiB);
  h.grow(30 * MiB);
  expect(h.collector.tick(10_000, 1, 1)).toBe(false);
  expect(h.collector.tick(10_500, 0, 2)).toBe(false);
  expect(h.collector.tick(11_000, 0, 2)).toBe(false);
  expect(h.collector.tick(11_500, 0, 2)).toBe(true);
});
