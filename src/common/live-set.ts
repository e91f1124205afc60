// An unordered collection for objects that come and go at the request rate: the connections a
// daemon tracks, the requests whose bodies are still streaming.

/**
 * Why not a Map or a Set: with entries added and deleted at this rate, V8 keeps replacing a Map's
 * backing table (deleted entries fill it up), and a replaced table that had reached the old
 * generation still points at the entries it held until the next full collection. Young collections
 * take those pointers as live, so every connection such a table held is copied to the old
 * generation with all it reaches. Measured on a bare node:net server, 16 connections at a time:
 * tracking the open sockets in a Map raised the share of allocation promoted from 5 % to 36–53 %
 * (a Set: 23–30 %) and the CPU per connection by about 40 %. This array replaces its storage only
 * when more entries are live at once than ever before; with it, both stayed where they were
 * without tracking.
 */
export class LiveSet<T> {
  private readonly slots: Array<Slot<T>> = [];

  get size(): number {
    return this.slots.length;
  }

  /** Adds `value`; the function returned removes it, and does nothing when called again. */
  add(value: T): () => void {
    const slot: Slot<T> = { value, index: this.slots.length };
    this.slots.push(slot);
    return () => this.remove(slot);
  }

  /** The values present, in no order; a copy, so entries may come and go while it is visited. */
  values(): T[] {
    return this.slots.map((slot) => slot.value);
  }

  private remove(slot: Slot<T>): void {
    if (slot.index < 0) return;
    // The last entry takes the removed one's place: O(1), and no hole for the array to grow around.
    const last = this.slots.pop() as Slot<T>;
    if (last !== slot) {
      this.slots[slot.index] = last;
      last.index = slot.index;
    }
    slot.index = -1;
  }
}

interface Slot<T> {
  readonly value: T;
  /** Where the slot sits in the array; -1 once removed. */
  index: number;
}
