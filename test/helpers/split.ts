// Feeds one byte vector to a parser in every way chunking can matter: whole, split in two, one byte at a time.

export interface SplitOptions {
  /**
   * Vectors up to this many bytes are split at every offset; longer ones at every offset within 64
   * bytes of either end and at about this many offsets spread evenly between. Default 4096.
   */
  everyOffsetUpTo?: number;
  /** Also feed one byte per chunk (default true). */
  oneByteAtATime?: boolean;
}

/** The offsets {@link forEachSplit} cuts a vector of `length` bytes at, ascending, 1 … length-1. */
export function splitOffsets(length: number, everyOffsetUpTo = 4096): number[] {
  if (length <= everyOffsetUpTo) return Array.from({ length: Math.max(0, length - 1) }, (_, i) => i + 1);
  const offsets = new Set<number>();
  for (let i = 1; i <= 64; i++) {
    offsets.add(i);
    offsets.add(length - i);
  }
  const step = length / everyOffsetUpTo;
  for (let i = 1; i < everyOffsetUpTo; i++) offsets.add(Math.round(i * step));
  return [...offsets].filter((o) => o > 0 && o < length).sort((a, b) => a - b);
}

/**
 * Calls `run` with `bytes` as one chunk, as two chunks cut at each offset, and as one-byte chunks.
 * Chunks are views of `bytes`; `how` names the feed for failure messages. A parser that gives the
 * same result for every feed does not depend on where the network cut the stream.
 */
export function forEachSplit(
  bytes: Buffer,
  run: (chunks: Buffer[], how: string) => void,
  options: SplitOptions = {},
): void {
  run([bytes], 'whole');
  for (const at of splitOffsets(bytes.length, options.everyOffsetUpTo)) {
    run([bytes.subarray(0, at), bytes.subarray(at)], `split at ${at}`);
  }
  if ((options.oneByteAtATime ?? true) && bytes.length > 1) {
    const bytewise: Buffer[] = [];
    for (let i = 0; i < bytes.length; i++) bytewise.push(bytes.subarray(i, i + 1));
    run(bytewise, 'one byte at a time');
  }
}

/** A deterministic PRNG (mulberry32) for random-input tests that must replay from a printed seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
