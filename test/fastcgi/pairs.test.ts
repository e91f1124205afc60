// Name-value pair codec (spec §3.4): length forms, byte vectors, truncation, round trips.

import { FastCgiProtocolError } from '../../src/fastcgi/errors';
import {
  MAX_PAIR_LENGTH,
  decodePairList,
  decodePairs,
  encodePairs,
  encodedPairsLength,
  pairLengthSize,
  writePairLength,
} from '../../src/fastcgi/pairs';
import { seededRandom } from '../helpers/split';
import { hex } from './vectors';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FastCgiProtocolError);
    return (err as FastCgiProtocolError).code;
  }
  return undefined;
}

describe('pair lengths (spec §3.4)', () => {
  // The lengths Go's fcgi tests use: both sides of the 1-byte/4-byte boundary and the 25-bit case.
  const sizeTests: Array<[length: number, wire: string]> = [
    [0, '00'],
    [127, '7f'], // largest 1-byte form
    [128, '80000080'], // smallest 4-byte form: top bit set, then 31 bits
    [1000, '800003e8'],
    [33554431, '81ffffff'], // 2^25 - 1: only the length header is tested, not 32 MB of data
  ];

  test.each(sizeTests)('length %d is written as %s', (length, wire) => {
    const target = Buffer.alloc(4, 0xaa);
    const end = writePairLength(target, 0, length);
    expect(end).toBe(pairLengthSize(length));
    expect(target.subarray(0, end).toString('hex')).toBe(wire);
  });

  test.each(sizeTests.filter(([length]) => length <= 1000))(
    'a value of %d bytes round-trips with its length prefix',
    (length) => {
      const value = 'v'.repeat(length);
      const encoded = encodePairs([['N', value]]);
      const wire = sizeTests.find(([l]) => l === length)![1];
      // nameLength 1, valueLength as above, "N", the value
      expect(encoded.subarray(0, 1 + wire.length / 2).toString('hex')).toBe('01' + wire);
      expect(encoded.length).toBe(1 + wire.length / 2 + 1 + length);
      expect(decodePairList(encoded)).toEqual(['N', value]);
    },
  );

  test('a 33554431-byte length with no data behind it is ERR_FCGI_BAD_PAIR, not an allocation', () => {
    expect(codeOf(() => decodePairList(hex('81ffffff 00')))).toBe('ERR_FCGI_BAD_PAIR'); // name 2^25-1, value 0
    expect(codeOf(() => decodePairList(hex('01 81ffffff 41')))).toBe('ERR_FCGI_BAD_PAIR'); // value 2^25-1
  });

  test('the largest length is 2^31 - 1; beyond that or negative is a RangeError', () => {
    const target = Buffer.alloc(4);
    writePairLength(target, 0, MAX_PAIR_LENGTH);
    expect(target.toString('hex')).toBe('ffffffff');
    expect(() => writePairLength(target, 0, MAX_PAIR_LENGTH + 1)).toThrow(RangeError);
    expect(() => writePairLength(target, 0, -1)).toThrow(RangeError);
    expect(() => writePairLength(target, 0, 1.5e3 + 0.5)).toThrow(RangeError);
  });
});

describe('decoding byte vectors', () => {
  const vectors: Array<[name: string, wire: Buffer, pairs: string[]]> = [
    ['no pairs', hex(''), []],
    [
      'the spec example (appendix B)',
      hex('0b 02', '5345525645525f504f5254', '3830'), // 11, 2, "SERVER_PORT", "80"
      ['SERVER_PORT', '80'],
    ],
    [
      'an empty value is kept, distinct from absent',
      hex('0e 00', '434f4e54454e545f4c454e475448'), // 14, 0, "CONTENT_LENGTH", ""
      ['CONTENT_LENGTH', ''],
    ],
    [
      'an empty name is passed through (the environ layer judges it)',
      hex('00 01 78'), // 0, 1, "", "x"
      ['', 'x'],
    ],
    [
      'a short length written in the 4-byte form is legal',
      hex('80000004 80000001', '484f5354', '78'), // name 4 (long form), value 1 (long form), "HOST", "x"
      ['HOST', 'x'],
    ],
    [
      'name 1-byte form, value 4-byte form (FCGI_NameValuePair14)',
      Buffer.concat([hex('01 80000080 41'), Buffer.alloc(128, 0x62)]), // 1, 128, "A", "b" x 128
      ['A', 'b'.repeat(128)],
    ],
    [
      'name 4-byte form, value 1-byte form (FCGI_NameValuePair41)',
      Buffer.concat([hex('80000080 01'), Buffer.alloc(128, 0x4e), hex('76')]), // 128, 1, "N" x 128, "v"
      ['N'.repeat(128), 'v'],
    ],
    [
      'bytes above 0x7f survive as latin1 chars, one per byte',
      hex('01 04 58 00ff80e9'), // 1, 4, "X", NUL 0xff 0x80 0xe9
      ['X', '\u0000\u00ff\u0080\u00e9'],
    ],
    [
      'order and duplicate names are kept as sent',
      hex('01 01 41 31', '01 00 42', '01 01 41 32'), // A=1, B=, A=2
      ['A', '1', 'B', '', 'A', '2'],
    ],
  ];

  test.each(vectors)('%s', (_name, wire, pairs) => {
    expect(decodePairList(wire)).toEqual(pairs);
    const seen: string[] = [];
    decodePairs(wire, (name, value) => seen.push(name, value));
    expect(seen).toEqual(pairs);
  });

  test('decodePairList appends to the list it is given', () => {
    const out = ['KEEP', 'me'];
    expect(decodePairList(hex('01 01 41 31'), out)).toBe(out);
    expect(out).toEqual(['KEEP', 'me', 'A', '1']);
  });

  test('decoded strings do not depend on the buffer afterwards', () => {
    const wire = hex('03 02 414243 3132');
    const pairs = decodePairList(wire);
    wire.fill(0x7a);
    expect(pairs).toEqual(['ABC', '12']);
  });
});

describe('malformed pairs are ERR_FCGI_BAD_PAIR (every length checked before slicing)', () => {
  const bad: Array<[name: string, wire: Buffer]> = [
    ['a lone name length', hex('05')],
    ['name length in 4-byte form cut after 2 bytes', hex('8000')],
    ['value length in 4-byte form cut after 3 bytes', hex('01 800000')],
    ['name runs past the end', hex('05 00 4142')],
    ['value runs past the end', hex('01 05 41 4243')],
    ['name and value each fit, not both', hex('02 02 414243')],
    ['a valid pair then a truncated one', hex('01 01 41 31', '01')],
    ['the largest lengths, nothing behind them', hex('ffffffff ffffffff')],
    ['a huge name length with a small buffer', hex('ff000000 00 41')],
  ];

  test.each(bad)('%s', (_name, wire) => {
    expect(codeOf(() => decodePairList(wire))).toBe('ERR_FCGI_BAD_PAIR');
    expect(codeOf(() => decodePairs(wire, () => undefined))).toBe('ERR_FCGI_BAD_PAIR');
  });

  test('the error is fatal on its own (no request id) and answers no HTTP status', () => {
    try {
      decodePairList(hex('05'));
      throw new Error('no error');
    } catch (err) {
      expect(err).toBeInstanceOf(FastCgiProtocolError);
      expect((err as FastCgiProtocolError).fatal).toBe(true);
      expect((err as FastCgiProtocolError).requestId).toBeUndefined();
    }
  });
});

describe('encoding', () => {
  test('the spec example encodes to its bytes', () => {
    expect(
      encodePairs([
        ['SERVER_PORT', '80'],
        ['SERVER_ADDR', '199.170.183.42'],
      ]),
    ).toEqual(
      hex(
        '0b 02 5345525645525f504f5254 3830', // 11, 2, SERVER_PORT, 80
        '0b 0e 5345525645525f41444452 3139392e3137302e3138332e3432', // 11, 14, SERVER_ADDR, 199.170.183.42
      ),
    );
  });

  test('empty names and values take one length byte and no data', () => {
    expect(
      encodePairs([
        ['', ''],
        ['A', ''],
      ]),
    ).toEqual(hex('00 00', '01 00 41'));
  });

  test('latin1: each char below U+0100 is one byte', () => {
    expect(encodePairs([['X', '\u00ff\u0000\u00e9']])).toEqual(hex('01 03 58 ff00e9'));
  });

  test('any iterable works, including a single-use generator and a Map', () => {
    function* gen(): Generator<[string, string]> {
      yield ['A', '1'];
      yield ['B', '22'];
    }
    const expected = hex('01 01 41 31', '01 02 42 3232');
    expect(encodePairs(gen())).toEqual(expected);
    expect(
      encodePairs(
        new Map([
          ['A', '1'],
          ['B', '22'],
        ]),
      ),
    ).toEqual(expected);
  });

  test('encodedPairsLength matches what encodePairs writes', () => {
    const pairs: Array<[string, string]> = [
      ['', ''],
      ['A', 'x'.repeat(127)],
      ['B'.repeat(128), 'y'.repeat(1000)],
    ];
    expect(encodedPairsLength(pairs)).toBe(encodePairs(pairs).length);
    expect(encodedPairsLength(pairs)).toBe(2 + (1 + 1 + 1 + 127) + (4 + 4 + 128 + 1000));
  });
});

describe('round trips', () => {
  test('random latin1 pairs decode to what was encoded (seeded)', () => {
    const SEED = 0x5eed1;
    const random = seededRandom(SEED);
    const randomString = (max: number): string => {
      const length = Math.floor(random() * max);
      let s = '';
      for (let i = 0; i < length; i++) s += String.fromCharCode(Math.floor(random() * 256));
      return s;
    };
    for (let round = 0; round < 1000; round++) {
      const pairs: Array<[string, string]> = [];
      const count = Math.floor(random() * 8);
      for (let i = 0; i < count; i++) {
        // Mostly short strings, sometimes long ones whose lengths take the 4-byte form.
        pairs.push([randomString(random() < 0.9 ? 20 : 300), randomString(random() < 0.9 ? 60 : 3000)]);
      }
      const decoded = decodePairList(encodePairs(pairs));
      const expected = pairs.flat();
      if (decoded.length !== expected.length || decoded.some((s, i) => s !== expected[i])) {
        expect({ seed: SEED, round, decoded }).toEqual({ seed: SEED, round, decoded: expected });
      }
    }
  });
});
