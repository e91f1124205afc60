// Per-request-id state of one connection: a Map's interface over an array indexed by id.

/**
 * Front ends reuse request id 1 for request after request on a kept-alive connection. A Map whose
 * one entry is deleted and set again for every request keeps rehashing its table (an allocation
 * every few requests); an array indexed by id (1–65535) does not. Ids far apart make the array
 * sparse, which JavaScript engines store as a dictionary: memory follows the ids in use, not 65535.
 */
export class RequestTable<T> {
  private readonly slots: Array<T | undefined> = [];
  /**
   * The ids present, in no order. Walking the slots instead would cost as many steps as the highest
   * id the connection ever used (HAProxy counts ids up to 32767), on every sweep and every close.
   */
  private readonly ids: number[] = [];

  get size(): number {
    return this.ids.length;
  }

  get(id: number): T | undefined {
    return this.slots[id];
  }

  set(id: number, value: T): void {
    if (this.slots[id] === undefined) this.ids.push(id);
    this.slots[id] = value;
  }

  delete(id: number): void {
    if (this.slots[id] === undefined) return;
    this.slots[id] = undefined;
    // A connection holds a handful of requests at most (maxConnRequests): a scan is cheap.
    const ids = this.ids;
    const last = ids.pop() as number;
    if (last !== id) ids[ids.indexOf(id)] = last;
  }

  /** The values present, in id order; a snapshot, so the table may change while they are visited. */
  values(): T[] {
    if (this.ids.length === 0) return [];
    const ids = this.ids.length === 1 ? this.ids : this.ids.slice().sort((a, b) => a - b);
    return ids.map((id) => this.slots[id] as T);
  }

  clear(): void {
    this.slots.length = 0;
    this.ids.length = 0;
  }
}
