// RequestTable: the Map subset the FastCGI layers use, over an array indexed by request id.
import { RequestTable } from '../../src/fastcgi/request-table';

describe('RequestTable', () => {
  test('set, get, delete and size, with an id reused request after request', () => {
    const table = new RequestTable<string>();
    for (let round = 0; round < 3; round++) {
      table.set(1, `r${round}`);
      expect(table.get(1)).toBe(`r${round}`);
      expect(table.size).toBe(1);
      table.delete(1);
      expect(table.get(1)).toBeUndefined();
      expect(table.size).toBe(0);
    }
  });

  test('setting an id again replaces its value without counting it twice; deleting an absent id is a no-op', () => {
    const table = new RequestTable<string>();
    table.set(7, 'a');
    table.set(7, 'b');
    table.delete(8);
    expect(table.size).toBe(1);
    expect(table.get(7)).toBe('b');
  });

  test('values() lists what is present in id order, ids far apart included, and is a snapshot', () => {
    const table = new RequestTable<string>();
    table.set(65535, 'last');
    table.set(2, 'two');
    table.set(1, 'one');
    const values = table.values();
    expect(values).toEqual(['one', 'two', 'last']);
    for (const value of values) if (value === 'two') table.delete(2);
    expect(table.values()).toEqual(['one', 'last']);
    table.clear();
    expect(table.size).toBe(0);
    expect(table.values()).toEqual([]);
  });
});
