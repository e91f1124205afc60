// Server-side session stores: the contract, and the per-process store bounded by count.

/**
 * Where sessions live when the cookie carries only a signed id. Data travels as JSON text, so a
 * request works on its own copy and whole sessions replace each other (the last save wins).
 */
export interface SessionStore {
  /** The JSON saved under `id`; undefined when there is none, or it expired. */
  get(id: string): Promise<string | undefined>;
  /** Saves `json` under `id`, to expire `maxAgeMs` from now. */
  set(id: string, json: string, maxAgeMs: number): Promise<void>;
  /** Forgets `id` (nothing when unknown). */
  delete(id: string): Promise<void>;
}

interface MemoryEntry {
  readonly json: string;
  /** Date.now() value after which the entry is gone. */
  readonly expires: number;
}

/**
 * Sessions in this process's memory, at most `maxEntries`: the least recently used goes first.
 * Lost when the process exits, and not shared between workers.
 */
export class MemoryStore implements SessionStore {
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  private readonly entries = new Map<string, MemoryEntry>();

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  async get(id: string): Promise<string | undefined> {
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    this.entries.delete(id);
    if (entry.expires <= Date.now()) return undefined;
    this.entries.set(id, entry);
    return entry.json;
  }

  async set(id: string, json: string, maxAgeMs: number): Promise<void> {
    this.entries.delete(id);
    this.entries.set(id, { json, expires: Date.now() + maxAgeMs });
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(oldest);
    }
  }

  async delete(id: string): Promise<void> {
    this.entries.delete(id);
  }
}
