// Name-value pair codec for PARAMS and GET_VALUES content (spec §3.4); strings are latin1, one char per byte.

import { latin1 } from '../common/latin1';
import { FastCgiProtocolError } from './errors';

/** Largest length a pair can declare: 31 bits, the top bit of the 4-byte form being the marker (spec §3.4). */
export const MAX_PAIR_LENGTH = 0x7fffffff;

/**
 * Decoded pairs, flat: each name at an even index, its value right after it. Order and duplicates are
 * kept as sent; an empty value stays '' (present), which differs from a name that was never sent.
 */
export type PairList = string[];

/** Bytes a length takes on the wire: 1 below 128, else 4 (spec §3.4). */
export function pairLengthSize(length: number): 1 | 4 {
  return length < 128 ? 1 : 4;
}

/**
 * Writes one pair length at `offset` and returns the offset after it: one byte below 128, else four
 * bytes big-endian with the top bit set (spec §3.4). Throws RangeError past 2^31 - 1.
 */
export function writePairLength(target: Buffer, offset: number, length: number): number {
  if (!(length >= 0 && length <= MAX_PAIR_LENGTH) || !Number.isInteger(length)) {
    throw new RangeError(`FastCGI pair length out of range: ${length}`);
  }
  if (length < 128) {
    target[offset] = length;
    return offset + 1;
  }
  target[offset] = (length >>> 24) | 0x80;
  target[offset + 1] = (length >>> 16) & 0xff;
  target[offset + 2] = (length >>> 8) & 0xff;
  target[offset + 3] = length & 0xff;
  return offset + 4;
}

function toArray(pairs: Iterable<readonly [string, string]>): ReadonlyArray<readonly [string, string]> {
  // An iterable may be single-use (a generator), and encoding walks the pairs twice: size, then bytes.
  return Array.isArray(pairs) ? (pairs as ReadonlyArray<readonly [string, string]>) : Array.from(pairs);
}

/** Bytes {@link encodePairs} produces for these pairs. */
export function encodedPairsLength(pairs: Iterable<readonly [string, string]>): number {
  let total = 0;
  for (const [name, value] of pairs) {
    total += pairLengthSize(name.length) + pairLengthSize(value.length) + name.length + value.length;
  }
  return total;
}

/**
 * Encodes pairs in the order given (spec §3.4). Strings are written as latin1, one byte per char, so a
 * value decoded from the wire re-encodes to the same bytes; chars above U+00FF cannot be represented
 * (only their low byte is written): convert text to a byte string first (`Buffer.toString('latin1')`).
 */
export function encodePairs(pairs: Iterable<readonly [string, string]>): Buffer {
  const list = toArray(pairs);
  const out = Buffer.allocUnsafe(encodedPairsLength(list));
  let offset = 0;
  for (const [name, value] of list) {
    offset = writePairLength(out, offset, name.length);
    offset = writePairLength(out, offset, value.length);
    if (name.length > 0) offset += out.write(name, offset, 'latin1');
    if (value.length > 0) offset += out.write(value, offset, 'latin1');
  }
  return out;
}

function badPair(message: string): FastCgiProtocolError {
  return new FastCgiProtocolError('ERR_FCGI_BAD_PAIR', message);
}

// One loop serves both decoders: `out` set collects into a flat list, else `onPair` is called.
function decode(
  buf: Buffer,
  out: PairList | null,
  onPair: ((name: string, value: string) => void) | null,
): void {
  const end = buf.length;
  const text = latin1(buf);
  let i = 0;
  while (i < end) {
    const pairStart = i;
    // Every length is checked against the bytes left before anything is read or sliced (spec §3.4).
    let nameLength = buf[i];
    if (nameLength < 0x80) {
      i += 1;
    } else {
      if (end - i < 4) throw badPair(`pair at byte ${pairStart}: name length truncated`);
      nameLength = ((nameLength & 0x7f) << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3];
      i += 4;
    }
    if (i >= end) throw badPair(`pair at byte ${pairStart}: value length missing`);
    let valueLength = buf[i];
    if (valueLength < 0x80) {
      i += 1;
    } else {
      if (end - i < 4) throw badPair(`pair at byte ${pairStart}: value length truncated`);
      valueLength = ((valueLength & 0x7f) << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3];
      i += 4;
    }
    if (nameLength + valueLength > end - i) {
      throw badPair(
        `pair at byte ${pairStart}: name ${nameLength} + value ${valueLength} bytes, only ${end - i} left`,
      );
    }
    const name = text.substring(i, i + nameLength);
    i += nameLength;
    const value = text.substring(i, i + valueLength);
    i += valueLength;
    if (out !== null) out.push(name, value);
    else (onPair as (name: string, value: string) => void)(name, value);
  }
}

/**
 * Decodes a complete pair sequence (all PARAMS content, or one GET_VALUES record) into a flat
 * {@link PairList}, appending to `out` when given. Throws FastCgiProtocolError ERR_FCGI_BAD_PAIR when a
 * length runs past the data; nothing is sliced before its length is checked.
 */
export function decodePairList(buf: Buffer, out: PairList = []): PairList {
  decode(buf, out, null);
  return out;
}

/** Like {@link decodePairList}, calling `onPair` for each pair in wire order instead of collecting. */
export function decodePairs(buf: Buffer, onPair: (name: string, value: string) => void): void {
  decode(buf, null, onPair);
}
