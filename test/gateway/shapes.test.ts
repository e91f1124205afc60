// ShapeCache: compiled literals only for name lists seen often, the same object either way, bounded.
import { ShapeCache } from '../../src/gateway/shapes';

const LIST = ['REQUEST_METHOD', 'GET', 'REQUEST_URI', '/a?b', 'HTTP_HOST', 'example.com'];

function withValues(list: readonly string[], suffix: string): string[] {
  return list.map((item, i) => (i % 2 === 1 ? item + suffix : item));
}

describe('ShapeCache', () => {
  test('a list is built generically (null) until seen `threshold` times, then by its literal', () => {
    const cache = new ShapeCache(4, 3);
    expect(cache.build(LIST)).toBeNull();
    expect(cache.build(LIST)).toBeNull();
    expect(cache.build(LIST)).toEqual({
      REQUEST_METHOD: 'GET',
      REQUEST_URI: '/a?b',
      HTTP_HOST: 'example.com',
    });
    expect(cache.compiled).toBe(1);
  });

  test('the literal takes each request its own values, in the list order', () => {
    const cache = new ShapeCache(4, 1);
    const built = cache.build(withValues(LIST, '-2'))!;
    expect(built).toEqual({ REQUEST_METHOD: 'GET-2', REQUEST_URI: '/a?b-2', HTTP_HOST: 'example.com-2' });
    expect(Object.keys(built)).toEqual(['REQUEST_METHOD', 'REQUEST_URI', 'HTTP_HOST']);
    expect(Object.getPrototypeOf(built)).toBe(Object.prototype);
  });

  test('a list with other names, or the same names in another order, is another shape', () => {
    const cache = new ShapeCache(4, 1);
    expect(cache.build(LIST)).not.toBeNull();
    const reordered = [...LIST.slice(2, 4), ...LIST.slice(0, 2), ...LIST.slice(4)];
    expect(Object.keys(cache.build(reordered)!)).toEqual(['REQUEST_URI', 'REQUEST_METHOD', 'HTTP_HOST']);
    expect(cache.build([...LIST, 'HTTP_X', 'y'])).toEqual({
      REQUEST_METHOD: 'GET',
      REQUEST_URI: '/a?b',
      HTTP_HOST: 'example.com',
      HTTP_X: 'y',
    });
    expect(cache.compiled).toBe(3);
  });

  test('repeated names and __proto__ never get a literal: they need the merging path', () => {
    const cache = new ShapeCache(4, 1);
    expect(cache.build(['HTTP_A', '1', 'HTTP_A', '2'])).toBeNull();
    expect(cache.build(['HTTP_A', '1', 'HTTP_A', '2'])).toBeNull();
    expect(cache.build(['__proto__', 'x', 'A', 'b'])).toBeNull();
    expect(cache.compiled).toBe(0);
  });

  test('names that look like code stay names', () => {
    const cache = new ShapeCache(4, 1);
    const names = ['"}; throw 1; //', 'a', '\\', 'b', "'", 'c', '\u2028', 'd'];
    expect(cache.build(names)).toEqual({ '"}; throw 1; //': 'a', '\\': 'b', "'": 'c', '\u2028': 'd' });
  });

  test('one-off lists replace each other, not the lists that keep coming', () => {
    const cache = new ShapeCache(3, 2);
    cache.build(LIST);
    expect(cache.build(LIST)).not.toBeNull();
    for (let i = 0; i < 100; i++) expect(cache.build([`HTTP_X_${i}`, 'v', 'A', 'b'])).toBeNull();
    expect(cache.build(LIST)).not.toBeNull();
    expect(cache.compiled).toBe(1);
  });
});
