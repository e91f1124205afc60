// Per-request-id state of one connection: a Map's interface over an array indexed by id.

/**
 * Front ends reuse request id 1 for request after request on a kept-alive connection. A Map whose
 * one entry is deleted and set again for every request keeps rehashing its table (an allocation
 * every few requests); an array indexed by id (1–65535) does not. Ids far apart make the array
 * sparse, which JavaScript engines store as a dictionary: memory follows the ids in use, not 65535.
 */
export class RequestTable<T> {
  private readonly slots: Array<T | undefined> = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: number): T | undefined {
    return this.slots[id];
  }

  set(id: number, value: T): void {
    if (this.slots[id] === undefined) this.count++;
    this.slots[id] = value;
  }

  delete(id: number): void {
    if (this.slots[id] === undefined) return;
    this.slots[id] = undefined;
    this.count--;
  }

  /** The values present, in id order; a snapshot, so the table may change while they are visited. */
  values(): T[] {
    const out: T[] = [];
    if (this.count === 0) return out;
    for (const value of this.slots) if (value !== undefined) out.push(value);
    return out;
  }

  clear(): void {
    this.slots.length = 0;
    this.count = 0;
  }
}
