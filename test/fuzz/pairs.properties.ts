// Properties of the name-value pair codec (spec §3.4), which decodes PARAMS and GET_VALUES: pair lists
// come back from either length form; any other bytes give pairs or ERR_FCGI_BAD_PAIR, nothing else.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FastCgiProtocolError } from '../../src/fastcgi/errors';
import {
  decodePairList,
  decodePairs,
  encodedPairsLength,
  encodePairs,
  type PairList,
} from '../../src/fastcgi/pairs';
import { latin1Text, mutated, randomBytes } from './arbitraries';
import { fuzzProperty, type FuzzProperty } from './property';

const PARSER = 'FastCGI params';

export type Pair = [name: string, value: string];

/** Names and values mostly short, sometimes across the 127/128 boundary of the two length forms. */
const pairText = fc.oneof(
  { weight: 6, arbitrary: latin1Text({ maxLength: 30 }) },
  { weight: 1, arbitrary: latin1Text({ minLength: 120, maxLength: 300 }) },
);

export const pairList: fc.Arbitrary<Pair[]> = fc.array(fc.tuple(pairText, pairText), { maxLength: 10 });

/**
 * A model of spec §3.4, not the encoder under test: a length below 128 takes the 1-byte form, or the
 * 4-byte form with the top bit set where `longForms` says so (cyclically); front ends may send either.
 */
export function encodeInForms(pairs: readonly Pair[], longForms: readonly boolean[]): Buffer {
  let next = 0;
  const length = (n: number): Buffer => {
    if (n < 128 && (longForms.length === 0 || !longForms[next++ % longForms.length])) return Buffer.from([n]);
    const out = Buffer.alloc(4);
    out.writeUInt32BE((n | 0x80000000) >>> 0);
    return out;
  };
  const parts: Buffer[] = [];
  for (const [name, value] of pairs) {
    parts.push(
      length(name.length),
      length(value.length),
      Buffer.from(name, 'latin1'),
      Buffer.from(value, 'latin1'),
    );
  }
  return Buffer.concat(parts);
}

/** The pairs decoded, or the code of the error, which must be ERR_FCGI_BAD_PAIR. */
function outcome(decode: () => PairList): PairList | string {
  try {
    return decode();
  } catch (err) {
    assert.ok(err instanceof FastCgiProtocolError, `threw ${String(err)}`);
    assert.equal(err.code, 'ERR_FCGI_BAD_PAIR');
    return err.code;
  }
}

function collect(bytes: Buffer): PairList {
  const out: PairList = [];
  decodePairs(bytes, (name, value) => out.push(name, value));
  return out;
}

function roundTrips([pairs, longForms]: [Pair[], boolean[]]): void {
  const flat = pairs.flat();
  const wire = encodeInForms(pairs, longForms);
  assert.deepStrictEqual(decodePairList(wire), flat);
  assert.deepStrictEqual(collect(wire), flat);
  const encoded = encodePairs(pairs);
  assert.equal(encoded.length, encodedPairsLength(pairs));
  assert.deepStrictEqual(decodePairList(encoded), flat);
}

function decodesOrRefuses(bytes: Buffer): void {
  const list = outcome(() => decodePairList(bytes));
  assert.deepStrictEqual(
    outcome(() => collect(bytes)),
    list,
    'the two decoders disagree',
  );
  if (typeof list !== 'string') {
    const pairs: Pair[] = [];
    for (let i = 0; i < list.length; i += 2) pairs.push([list[i], list[i + 1]]);
    // The shortest forms can only be as long as what was read.
    assert.ok(encodedPairsLength(pairs) <= bytes.length, 'decoded more than the bytes hold');
  }
}

export const PAIRS_PROPERTIES: readonly FuzzProperty[] = [
  fuzzProperty(
    PARSER,
    'pair lists decode back from either length form',
    fc.tuple(pairList, fc.array(fc.boolean(), { maxLength: 4 })),
    roundTrips,
  ),
  fuzzProperty(
    PARSER,
    'random and mutated pair bytes decode or fail with ERR_FCGI_BAD_PAIR',
    fc.oneof(
      randomBytes(64),
      mutated(
        fc.tuple(pairList, fc.array(fc.boolean(), { maxLength: 4 })).map(([p, f]) => encodeInForms(p, f)),
      ),
    ),
    decodesOrRefuses,
  ),
];
