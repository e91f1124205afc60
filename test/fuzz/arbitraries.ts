// fast-check arbitraries the protocol properties share: bytes, latin1 text, chunkings and mutations.
import fc from 'fast-check';
import { seededRandom } from '../helpers/split';

/** Random bytes drawn once; payloads are views of it, so a 100 kB body costs nothing to generate. */
const POOL = ((): Buffer => {
  const random = seededRandom(0x5eed);
  const bytes = Buffer.allocUnsafe(256 * 1024);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (random() * 256) | 0;
  return bytes;
})();

/**
 * Bytes of any value: mostly a few dozen, sometimes a few thousand, rarely more than one 65535-byte
 * record. Contents rarely matter to a parser, lengths do: a length and an offset into random bytes
 * shrink to the shortest failing input far faster than an array of byte arbitraries.
 */
export function payload(): fc.Arbitrary<Buffer> {
  const length = fc.oneof(
    { weight: 30, arbitrary: fc.nat(64) },
    { weight: 8, arbitrary: fc.nat(3000) },
    { weight: 1, arbitrary: fc.integer({ min: 65_000, max: 140_000 }) },
  );
  return fc.tuple(length, fc.nat()).map(([n, at]) => {
    const start = at % (POOL.length - n);
    return POOL.subarray(start, start + n);
  });
}

/** Raw random bytes, up to `maxLength`. */
export function randomBytes(maxLength: number): fc.Arbitrary<Buffer> {
  // size 'max': lengths spread over the whole range, not fast-check's default of a few elements.
  return fc.uint8Array({ maxLength, size: 'max' }).map((u) => Buffer.from(u.buffer, u.byteOffset, u.length));
}

/** A latin1 string (one char per byte, as both protocols carry them); `noNul` leaves out U+0000. */
export function latin1Text(constraints: {
  minLength?: number;
  maxLength: number;
  noNul?: boolean;
}): fc.Arbitrary<string> {
  const { minLength = 0, maxLength, noNul = false } = constraints;
  return fc
    .uint8Array({ min: noNul ? 1 : 0, max: 255, minLength, maxLength, size: 'max' })
    .map((u) => Buffer.from(u.buffer, u.byteOffset, u.length).toString('latin1'));
}

/**
 * A position in an input of unknown length, reduced modulo the length where it is used: fast-check
 * biases plain integers towards small values, which would keep cuts and edits near the start.
 */
export const position: fc.Arbitrary<number> = fc.oneof(fc.nat(), fc.noBias(fc.nat()));

/**
 * How an input is cut into chunks: at random offsets, or every `size` bytes (one byte at a time
 * included; for long inputs `size` grows so that there are at most 4096 chunks).
 */
export type Chunking = { cuts: number[] } | { size: number };

export function chunking(): fc.Arbitrary<Chunking> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ cuts: fc.array(position, { maxLength: 8 }) }) },
    { weight: 1, arbitrary: fc.record({ size: fc.integer({ min: 1, max: 16 }) }) },
  );
}

/** `bytes` cut as `how` says, as views; empty chunks included, since a parser must ignore them. */
export function cut(bytes: Buffer, how: Chunking): Buffer[] {
  const chunks: Buffer[] = [];
  if ('size' in how) {
    const size = Math.max(how.size, Math.ceil(bytes.length / 4096));
    for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
    return chunks;
  }
  const offsets = how.cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b);
  let from = 0;
  for (const at of offsets) {
    chunks.push(bytes.subarray(from, at));
    from = at;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

// Bytes that mean something to one of the two protocols: lengths at the 1/4-byte pair boundary,
// record types 1–11, the FastCGI version, and SCGI's NUL, ':' and ',' and digits.
const INTERESTING = [
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x2c, 0x30, 0x31, 0x39, 0x3a,
  0x7f, 0x80, 0x81, 0xfe, 0xff,
];

/** One edit of a byte string; `at` and `span` are reduced modulo the input when applied. */
interface Mutation {
  op: number;
  at: number;
  value: number;
  span: number;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.nat(6),
  at: position,
  value: fc.nat(255),
  span: fc.integer({ min: 1, max: 16 }),
});

function mutate(input: Buffer, edits: readonly Mutation[]): Buffer {
  let bytes = input;
  for (const { op, at, value, span } of edits) {
    const n = bytes.length;
    const i = n === 0 ? 0 : at % n;
    switch (op) {
      case 0: // a random byte
        if (n > 0) (bytes = Buffer.from(bytes))[i] = value;
        break;
      case 1: // a byte some field of either protocol gives meaning to
        if (n > 0) (bytes = Buffer.from(bytes))[i] = INTERESTING[value % INTERESTING.length];
        break;
      case 2: // bytes dropped
        bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + span)]);
        break;
      case 3: // bytes inserted
        bytes = Buffer.concat([bytes.subarray(0, i), Buffer.alloc(span, value), bytes.subarray(i)]);
        break;
      case 4: // a slice repeated in place (a record or field sent twice)
        bytes = Buffer.concat([bytes.subarray(0, i + span), bytes.subarray(i)]);
        break;
      case 5: // a 16-bit big-endian field (a FastCGI id or length) set to an edge value
        if (n > 1) {
          bytes = Buffer.from(bytes);
          bytes.writeUInt16BE([0, 1, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0xfffe, 0xffff][value % 10], i % (n - 1));
        }
        break;
      default: // cut short
        bytes = bytes.subarray(0, i);
    }
  }
  return bytes;
}

/** A valid encoding with one to four edits: near misses of what a parser accepts. */
export function mutated(valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc
    .tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 4 }))
    .map(([bytes, edits]) => mutate(bytes, edits));
}
