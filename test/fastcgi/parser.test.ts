// RecordParser against byte vectors, each fed whole, split at every offset, and one byte at a time.

import {
  FCGI_ABORT_REQUEST,
  FCGI_AUTHORIZER,
  FCGI_BEGIN_REQUEST,
  FCGI_DATA,
  FCGI_END_REQUEST,
  FCGI_FILTER,
  FCGI_GET_VALUES,
  FCGI_GET_VALUES_RESULT,
  FCGI_KEEP_CONN,
  FCGI_MAX_CONNS,
  FCGI_MAX_REQS,
  FCGI_MPXS_CONNS,
  FCGI_PARAMS,
  FCGI_RESPONDER,
  FCGI_STDERR,
  FCGI_STDIN,
  FCGI_STDOUT,
  FCGI_UNKNOWN_TYPE,
} from '../../src/fastcgi/constants';
import { FastCgiProtocolError, type FastCgiErrorCode } from '../../src/fastcgi/errors';
import { encodePairs } from '../../src/fastcgi/pairs';
import { RecordParser, type RecordParserOptions } from '../../src/fastcgi/parser';
import {
  abortRequestRecord,
  beginRequestRecord,
  dataRecords,
  getValuesRecord,
  paramsRecords,
  stdinRecords,
  streamEndRecord,
} from '../../src/fastcgi/writer';
import { DEFAULT_LIMITS } from '../../src/runtime/limits';
import { forEachSplit, seededRandom, type SplitOptions } from '../helpers/split';
import { parse, Recorder, type Event, type Hooks } from './recorder';
import { hex, latin1, rec, recordBoundaries, recordSlices } from './vectors';

// ---- Feeding

interface CheckOptions {
  options?: RecordParserOptions;
  hooks?: Hooks;
  splits?: SplitOptions;
}

/** Every feed of `bytes` must give `expected`, with no broken sink contract. */
function check(bytes: Buffer, expected: Event[], { options, hooks, splits }: CheckOptions = {}): void {
  forEachSplit(
    bytes,
    (chunks, how) => {
      const { events, violations } = parse(chunks, options, hooks);
      // Compare first and assert only on a mismatch: thousands of feeds per vector.
      if (violations.length !== 0 || JSON.stringify(events) !== JSON.stringify(expected)) {
        expect({ how, events, violations }).toEqual({ how, events: expected, violations: [] });
      }
    },
    splits,
  );
}

// ---- Vector pieces

/** Hex of a latin1 string, for commented vectors. */
const t = (text: string): string => latin1(text).toString('hex');

const begin = (id: number, role: number = FCGI_RESPONDER, flags = FCGI_KEEP_CONN): Buffer =>
  beginRequestRecord(id, role, flags);
const params = (id: number, pairs: Array<[string, string]>, maxContent?: number): Buffer =>
  Buffer.concat(paramsRecords(id, pairs, maxContent));
const stdin = (id: number, text: string | Buffer, maxContent?: number): Buffer =>
  Buffer.concat(stdinRecords(id, typeof text === 'string' ? latin1(text) : text, maxContent));
const stdinEnd = (id: number): Buffer => streamEndRecord(FCGI_STDIN, id);
const all = (...parts: Buffer[]): Buffer => Buffer.concat(parts);

/** A GET as nginx sends it: fastcgi_keep_conn on, all params in one record padded to 8, empty STDIN. */
const NGINX_GET = hex(`
  01 01 0001 0008 00 00              # version 1, BEGIN_REQUEST, id 1, 8 content bytes, no padding
  0001 01 0000000000                 # role RESPONDER, flags KEEP_CONN, 5 reserved
  01 04 0001 001c 04 00              # PARAMS, id 1, 28 content bytes, 4 padding
  0e 03 ${t('REQUEST_METHOD')} ${t('GET')}   # name 14, value 3
  05 02 ${t('HTTPS')} ${t('on')}             # name 5, value 2
  00000000                           # padding
  01 04 0001 0000 00 00              # empty PARAMS: end of the stream
  01 05 0001 0000 00 00              # empty STDIN: no body
`);

const NGINX_GET_EVENTS: Event[] = [
  ['begin', 1, FCGI_RESPONDER, true],
  ['params', 1, ['REQUEST_METHOD', 'GET', 'HTTPS', 'on']],
  ['stdinEnd', 1],
];

/** A POST with a body in two STDIN records, padding 0 and 255 (padding bytes are 0xEE and ignored). */
const POST = hex(`
  01 01 0001 0008 00 00  0001 00 0000000000    # BEGIN_REQUEST id 1, RESPONDER, flags 0
  01 04 0001 0013 00 00                       # PARAMS id 1, 19 bytes, padding 0
  0e 03 ${t('REQUEST_METHOD')} ${t('PUT')}
  01 04 0001 0000 00 00                       # end of PARAMS
  01 05 0001 0005 00 00 ${t('hello')}         # STDIN "hello", padding 0
  01 05 0001 0006 ff 00 ${t(' world')} ${'ee'.repeat(255)}  # STDIN " world", padding 255
  01 05 0001 0000 ff 00 ${'ee'.repeat(255)}   # empty STDIN with padding 255
`);

const POST_EVENTS: Event[] = [
  ['begin', 1, FCGI_RESPONDER, false],
  ['params', 1, ['REQUEST_METHOD', 'PUT']],
  ['stdin', 1, 'hello world'],
  ['stdinEnd', 1],
];

// ---- Tests

describe('whole requests', () => {
  test('a GET as nginx sends it', () => {
    check(NGINX_GET, NGINX_GET_EVENTS);
  });

  test('a POST body over records with padding 0 and 255', () => {
    check(POST, POST_EVENTS);
  });

  test('several requests in a row on one kept connection, the id reused after requestDone', () => {
    check(all(NGINX_GET, NGINX_GET, POST), [...NGINX_GET_EVENTS, ...NGINX_GET_EVENTS, ...POST_EVENTS], {
      hooks: { doneAfter: ['stdinEnd'] },
    });
  });

  test.each([1, 2, 256, 65535])('request id %d', (id) => {
    check(all(begin(id), params(id, [['A', 'b']]), stdin(id, 'xy'), stdinEnd(id)), [
      ['begin', id, FCGI_RESPONDER, true],
      ['params', id, ['A', 'b']],
      ['stdin', id, 'xy'],
      ['stdinEnd', id],
    ]);
  });

  test('roles and flags pass through as sent; an unknown role is for the connection to refuse', () => {
    check(
      all(
        begin(1, FCGI_AUTHORIZER, 0),
        begin(2, FCGI_FILTER, FCGI_KEEP_CONN),
        begin(3, 99, 0xfe), // unknown role; flags without KEEP_CONN
      ),
      [
        ['begin', 1, FCGI_AUTHORIZER, false],
        ['begin', 2, FCGI_FILTER, true],
        ['begin', 3, 99, false],
      ],
    );
  });

  test('an empty PARAMS stream gives no pairs', () => {
    check(all(begin(1), params(1, [])), [
      ['begin', 1, FCGI_RESPONDER, true],
      ['params', 1, []],
    ]);
  });

  test('a filter: PARAMS, STDIN, then DATA (spec §6.4)', () => {
    check(
      all(
        begin(5, FCGI_FILTER),
        params(5, [['FCGI_DATA_LENGTH', '3']]),
        stdin(5, 'in'),
        stdinEnd(5),
        Buffer.concat(dataRecords(5, latin1('abc'), 2)),
        streamEndRecord(FCGI_DATA, 5),
      ),
      [
        ['begin', 5, FCGI_FILTER, true],
        ['params', 5, ['FCGI_DATA_LENGTH', '3']],
        ['stdin', 5, 'in'],
        ['stdinEnd', 5],
        ['data', 5, 'abc'],
        ['dataEnd', 5],
      ],
    );
  });

  test('params are reported at the empty PARAMS record, without waiting for STDIN', () => {
    // haproxy #2499: dispatch at PARAMS end; the parser reports params without waiting for STDIN.
    const { events } = parse([all(begin(1), params(1, [['A', '1']]))], {}, {}, false);
    expect(events).toEqual([
      ['begin', 1, FCGI_RESPONDER, true],
      ['params', 1, ['A', '1']],
    ]);
  });
});

describe('PARAMS', () => {
  test('pair lengths 0, 127, 128 and 1000 in names and values', () => {
    const pairs: Array<[string, string]> = [
      ['EMPTY', ''],
      ['N'.repeat(127), 'v'.repeat(127)],
      ['M'.repeat(128), 'w'.repeat(128)],
      ['L', 'x'.repeat(1000)],
    ];
    check(all(begin(1), params(1, pairs)), [
      ['begin', 1, FCGI_RESPONDER, true],
      ['params', 1, pairs.flat()],
    ]);
  });

  test('pairs straddling record boundaries, as cgi-fcgi sends them (fcgi2 #13)', () => {
    const pairs: Array<[string, string]> = [
      ['SCRIPT_FILENAME', '/srv/app/index.php'],
      ['QUERY_STRING', 'a=1&b=2'],
      ['HTTP_COOKIE', 'c'.repeat(200)],
    ];
    for (const maxContent of [1, 2, 3, 7, 8, 13]) {
      check(
        all(begin(1), params(1, pairs, maxContent), stdinEnd(1)),
        [
          ['begin', 1, FCGI_RESPONDER, true],
          ['params', 1, pairs.flat()],
          ['stdinEnd', 1],
        ],
        { splits: { everyOffsetUpTo: 256 } },
      );
    }
  });

  test('a length header split across records', () => {
    // A 4-byte value length whose first two bytes end one record and last two start the next.
    const content = hex('01 80000100 41', 'ee'.repeat(256)); // name 1, value 256 (4-byte form), "A", value
    check(
      all(
        begin(1),
        rec(FCGI_PARAMS, 1, content.subarray(0, 3)), // 01 80 00
        rec(FCGI_PARAMS, 1, content.subarray(3)), // 01 00 41 ...
        rec(FCGI_PARAMS, 1),
      ),
      [
        ['begin', 1, FCGI_RESPONDER, true],
        ['params', 1, ['A', '\u00ee'.repeat(256)]],
      ],
    );
  });

  test('a 70 kB value spreads over two PARAMS records of at most 65535 bytes', () => {
    const big = 'v'.repeat(70_000);
    const pairs: Array<[string, string]> = [
      ['HTTP_X_BIG', big],
      ['AFTER', 'yes'],
    ];
    const bytes = all(begin(1), params(1, pairs), stdin(1, 'body'), stdinEnd(1));
    check(
      bytes,
      [
        ['begin', 1, FCGI_RESPONDER, true],
        ['params', 1, pairs.flat()],
        ['stdin', 1, 'body'],
        ['stdinEnd', 1],
      ],
      { splits: { everyOffsetUpTo: 200 } },
    );
  });

  test('PARAMS spread over many records, interleaved with other requests', () => {
    const pairs1: Array<[string, string]> = Array.from({ length: 40 }, (_, i) => [`NAME_${i}`, `value ${i}`]);
    const pairs2: Array<[string, string]> = [['ONLY', 'two']];
    const p1 = recordSlices(params(1, pairs1, 16));
    const p2 = recordSlices(params(2, pairs2, 3));
    const woven: Buffer[] = [begin(1), begin(2)];
    for (let i = 0; i < Math.max(p1.length, p2.length); i++) {
      if (i < p1.length) woven.push(p1[i]);
      if (i < p2.length) woven.push(p2[i]);
    }
    check(
      Buffer.concat(woven),
      [
        ['begin', 1, FCGI_RESPONDER, true],
        ['begin', 2, FCGI_RESPONDER, true],
        ['params', 2, pairs2.flat()],
        ['params', 1, pairs1.flat()],
      ],
      { splits: { everyOffsetUpTo: 512 } },
    );
  });

  test('a malformed pair ends only its request (ERR_FCGI_BAD_PAIR, 400)', () => {
    const bytes = all(
      begin(1),
      begin(2),
      rec(FCGI_PARAMS, 1, hex('05 00 4142')), // name length 5, only 2 bytes
      rec(FCGI_PARAMS, 1),
      stdin(1, 'ignored'),
      params(2, [['OK', '1']]),
    );
    check(bytes, [
      ['begin', 1, FCGI_RESPONDER, true],
      ['begin', 2, FCGI_RESPONDER, true],
      ['error', 'ERR_FCGI_BAD_PAIR', 1],
      ['params', 2, ['OK', '1']],
    ]);
    const { recorder } = parse([bytes]);
    expect(recorder.errors[0].status).toBe(400);
    expect(recorder.errors[0].cause).toBeInstanceOf(FastCgiProtocolError);
  });

  test('PARAMS after the PARAMS stream ended is ERR_FCGI_STREAM_AFTER_END; a repeated empty one is ignored', () => {
    check(
      all(
        begin(1),
        params(1, []),
        rec(FCGI_PARAMS, 1),
        stdin(1, 'ok'),
        rec(FCGI_PARAMS, 1, 'late'),
        stdin(1, 'x'),
      ),
      [
        ['begin', 1, FCGI_RESPONDER, true],
        ['params', 1, []],
        ['stdin', 1, 'ok'],
        ['error', 'ERR_FCGI_STREAM_AFTER_END', 1],
      ],
    );
  });
});

describe('limits', () => {
  const pairOf = (contentBytes: number): Array<[string, string]> => [['P', 'x'.repeat(contentBytes - 3)]];

  test('PARAMS exactly at maxParamsBytes pass', () => {
    check(
      all(begin(1), params(1, pairOf(100), 10)),
      [
        ['begin', 1, FCGI_RESPONDER, true],
        ['params', 1, pairOf(100).flat()],
      ],
      { options: { maxParamsBytes: 100 } },
    );
  });

  test('one byte over is ERR_FCGI_PARAMS_TOO_LARGE (431) for that request only', () => {
    const bytes = all(
      begin(1),
      begin(2),
      params(1, pairOf(101), 10),
      stdin(1, 'dropped'),
      params(2, pairOf(50)),
    );
    check(
      bytes,
      [
        ['begin', 1, FCGI_RESPONDER, true],
        ['begin', 2, FCGI_RESPONDER, true],
        ['error', 'ERR_FCGI_PARAMS_TOO_LARGE', 1],
        ['params', 2, pairOf(50).flat()],
      ],
      { options: { maxParamsBytes: 100 } },
    );
    expect(parse([bytes], { maxParamsBytes: 100 }).recorder.errors[0].status).toBe(431);
  });

  test('the limit is checked on the header, before the content is buffered', () => {
    const recorder = new Recorder();
    const parser = new RecordParser(recorder, { maxParamsBytes: 1000 });
    recorder.parser = parser;
    parser.push(begin(1));
    parser.push(hex('01 04 0001 ffff 01 00')); // PARAMS, id 1, 65535 bytes announced, none sent yet
    expect(recorder.events).toEqual([
      ['begin', 1, FCGI_RESPONDER, true],
      ['error', 'ERR_FCGI_PARAMS_TOO_LARGE', 1],
    ]);
    // The announced content is skipped as it arrives, never held.
    parser.push(Buffer.alloc(40_000));
    expect(parser.bufferedBytes).toBe(0);
    parser.push(Buffer.alloc(25_536));
    parser.push(begin(2));
    expect(recorder.events[recorder.events.length - 1]).toEqual(['begin', 2, FCGI_RESPONDER, true]);
    expect(parser.highWaterMark).toBe(0);
  });

  test('the default limit is DEFAULT_LIMITS.maxParamsBytes', () => {
    const parser = new RecordParser(new Recorder());
    expect(parser.maxParamsBytes).toBe(DEFAULT_LIMITS.maxParamsBytes);
    expect(parser.maxConnRequests).toBe(DEFAULT_LIMITS.maxConnRequests);
  });

  test('requests over maxConnRequests are overloaded and their records ignored', () => {
    const bytes = all(
      begin(1),
      begin(2),
      begin(3, FCGI_RESPONDER, 0), // over the cap of 2
      params(3, [['X', 'y']]), // ignored: id 3 never became active
      stdin(3, 'ignored'),
      params(1, [['A', '1']]),
    );
    check(
      bytes,
      [
        ['begin', 1, FCGI_RESPONDER, true],
        ['begin', 2, FCGI_RESPONDER, true],
        ['overloaded', 3, FCGI_RESPONDER, false],
        ['params', 1, ['A', '1']],
      ],
      { options: { maxConnRequests: 2 } },
    );
    const { parser } = parse([bytes], { maxConnRequests: 2 });
    expect(parser.isActive(3)).toBe(false);
    expect(parser.activeRequests).toBe(2);
  });

  test('a slot freed by requestDone takes the next request', () => {
    check(
      all(begin(1), begin(2), stdin(1, 'x'), params(1, []), stdinEnd(1), begin(2), begin(3), begin(4)),
      [
        ['begin', 1, FCGI_RESPONDER, true],
        ['overloaded', 2, FCGI_RESPONDER, true],
        ['error', 'ERR_FCGI_STDIN_BEFORE_PARAMS_END', 1],
        ['begin', 2, FCGI_RESPONDER, true],
        ['overloaded', 3, FCGI_RESPONDER, true],
        ['overloaded', 4, FCGI_RESPONDER, true],
      ],
      { options: { maxConnRequests: 1 }, hooks: { doneAfter: ['error'] } },
    );
  });

  test('options are validated', () => {
    expect(() => new RecordParser(new Recorder(), { maxConnRequests: 0 })).toThrow(RangeError);
    expect(() => new RecordParser(new Recorder(), { maxParamsBytes: -1 })).toThrow(RangeError);
    expect(() => new RecordParser(new Recorder(), { maxParamsBytes: NaN })).toThrow(RangeError);
  });

  test('bufferedBytes counts the unread queue and buffered PARAMS; highWaterMark keeps the peak', () => {
    const recorder = new Recorder();
    const parser = new RecordParser(recorder);
    recorder.parser = parser;
    parser.push(begin(1));
    expect(parser.bufferedBytes).toBe(0);
    const encoded = encodePairs([['A', 'x'.repeat(20)]]); // 1 + 1 + 1 + 20 = 23 bytes
    const rec1 = rec(FCGI_PARAMS, 1, encoded.subarray(0, 12));
    const rec2 = rec(FCGI_PARAMS, 1, encoded.subarray(12));
    const end = rec(FCGI_PARAMS, 1);
    parser.push(rec1.subarray(0, 5)); // part of a header
    expect(parser.bufferedBytes).toBe(5);
    parser.push(rec1.subarray(5)); // rest of record 1: 12 bytes of PARAMS now buffered
    expect(parser.bufferedBytes).toBe(12);
    parser.push(rec2); // 11 more
    expect(parser.bufferedBytes).toBe(23);
    parser.push(end);
    expect(parser.bufferedBytes).toBe(0);
    expect(parser.highWaterMark).toBe(23);
    expect(recorder.events[1]).toEqual(['params', 1, ['A', 'x'.repeat(20)]]);
  });

  test('highWaterMark counts what waits for the next push, not a chunk while it is parsed', () => {
    const recorder = new Recorder();
    const parser = new RecordParser(recorder);
    recorder.parser = parser;
    parser.push(all(begin(1), params(1, []), stdin(1, Buffer.alloc(300_000)), stdinEnd(1)));
    expect(parser.highWaterMark).toBe(0);
    parser.push(begin(2).subarray(0, 5)); // part of a header waits
    expect(parser.highWaterMark).toBe(5);
  });

  test('requestDone drops buffered PARAMS', () => {
    const recorder = new Recorder();
    const parser = new RecordParser(recorder);
    recorder.parser = parser;
    parser.push(all(begin(1), rec(FCGI_PARAMS, 1, 'abcdefgh')));
    expect(parser.bufferedBytes).toBe(8);
    parser.requestDone(1);
    expect(parser.bufferedBytes).toBe(0);
    parser.push(rec(FCGI_PARAMS, 1)); // id 1 is inactive: ignored
    expect(recorder.events).toEqual([['begin', 1, FCGI_RESPONDER, true]]);
    parser.requestDone(1); // twice is harmless
    parser.requestDone(77); // never active: harmless
  });
});

describe('multiplexing', () => {
  test('interleaved records of three requests', () => {
    const bytes = all(
      begin(1),
      begin(2),
      params(2, [['ID', 'two']]),
      begin(3),
      params(1, [['ID', 'one']]),
      stdin(2, 'b1'),
      params(3, [['ID', 'three']]),
      stdin(1, 'a1'),
      stdin(2, 'b2'),
      stdinEnd(3),
      stdin(1, 'a2'),
      stdinEnd(2),
      stdinEnd(1),
    );
    check(bytes, [
      ['begin', 1, FCGI_RESPONDER, true],
      ['begin', 2, FCGI_RESPONDER, true],
      ['params', 2, ['ID', 'two']],
      ['begin', 3, FCGI_RESPONDER, true],
      ['params', 1, ['ID', 'one']],
      ['stdin', 2, 'b1'],
      ['params', 3, ['ID', 'three']],
      ['stdin', 1, 'a1'],
      ['stdin', 2, 'b2'],
      ['stdinEnd', 3],
      ['stdin', 1, 'a2'],
      ['stdinEnd', 2],
      ['stdinEnd', 1],
    ]);
  });

  test('a per-request error leaves the other requests running', () => {
    check(
      all(
        begin(1),
        begin(2),
        stdin(2, 'early'),
        params(1, []),
        stdin(1, 'fine'),
        stdin(2, 'ignored'),
        stdinEnd(1),
      ),
      [
        ['begin', 1, FCGI_RESPONDER, true],
        ['begin', 2, FCGI_RESPONDER, true],
        ['error', 'ERR_FCGI_STDIN_BEFORE_PARAMS_END', 2],
        ['params', 1, []],
        ['stdin', 1, 'fine'],
        ['stdinEnd', 1],
      ],
    );
  });
});

describe('request ids (spec §3.3)', () => {
  test('a fatal error on a connection that used request id 65535 takes microseconds, not a walk of 65536 slots', () => {
    // Found by the fuzz run's profile: each fatal error swept the request table up to the highest id
    // the connection had ever used, about 2 ms a connection for this vector.
    const bytes = hex(`
      01 01 ffff 0008 00 00  0001 01 0000000000   # BEGIN_REQUEST, id 65535
      00 00 0000 0000 00 00                       # version 0: fatal
    `);
    const started = performance.now();
    for (let i = 0; i < 500; i++) {
      const { recorder } = parse([bytes]);
      expect(recorder.errors[0]?.code).toBe('ERR_FCGI_BAD_VERSION');
    }
    // 500 × 2 ms before; a few ms now. The margin absorbs a loaded machine.
    expect(performance.now() - started).toBeLessThan(250);
  });

  test('records for ids that were never begun are ignored', () => {
    check(
      all(
        params(7, [['X', '1']]),
        stdin(7, 'x'),
        stdinEnd(7),
        rec(FCGI_DATA, 7, 'd'),
        abortRequestRecord(7),
        rec(FCGI_STDOUT, 7, 'o'), // even types a web server never sends
        rec(200, 7, 'unknown'),
        NGINX_GET,
      ),
      NGINX_GET_EVENTS,
    );
  });

  test('records for an id after requestDone are ignored until it begins again', () => {
    check(
      all(begin(1), params(1, []), stdin(1, 'late'), stdinEnd(1), begin(1), params(1, [['AGAIN', '1']])),
      [
        ['begin', 1, FCGI_RESPONDER, true],
        ['params', 1, []],
        ['begin', 1, FCGI_RESPONDER, true],
        ['params', 1, ['AGAIN', '1']],
      ],
      { hooks: { doneAfter: ['params'] } },
    );
  });

  test('BEGIN_REQUEST for an active id is ERR_FCGI_DUPLICATE_REQUEST, fatal; later input is ignored', () => {
    const bytes = all(begin(1), params(1, []), begin(1), NGINX_GET);
    check(bytes, [
      ['begin', 1, FCGI_RESPONDER, true],
      ['params', 1, []],
      ['error', 'ERR_FCGI_DUPLICATE_REQUEST', undefined],
    ]);
    const { parser, recorder } = parse([bytes]);
    expect(parser.errored).toBe(true);
    expect(parser.bufferedBytes).toBe(0);
    expect(parser.activeRequests).toBe(0);
    expect(recorder.errors[0].fatal).toBe(true);
    expect(recorder.errors[0].status).toBeUndefined();
    parser.push(NGINX_GET);
    parser.end();
    expect(recorder.events).toHaveLength(3);
  });

  test('an id that failed or was aborted stays active until requestDone: BEGIN again is a duplicate', () => {
    check(all(begin(1), abortRequestRecord(1), begin(1)), [
      ['begin', 1, FCGI_RESPONDER, true],
      ['abort', 1],
      ['error', 'ERR_FCGI_DUPLICATE_REQUEST', undefined],
    ]);
  });

  test('BEGIN_REQUEST with a body other than 8 bytes is ERR_FCGI_BAD_BEGIN_LENGTH, fatal', () => {
    check(rec(FCGI_BEGIN_REQUEST, 1, hex('0001 01 00000000')), [
      ['error', 'ERR_FCGI_BAD_BEGIN_LENGTH', undefined],
    ]);
    check(rec(FCGI_BEGIN_REQUEST, 1, hex('0001 01 0000000000 00')), [
      ['error', 'ERR_FCGI_BAD_BEGIN_LENGTH', undefined],
    ]);
  });
});

describe('streams', () => {
  test('STDIN before the PARAMS stream ended is ERR_FCGI_STDIN_BEFORE_PARAMS_END (400); the request is closed', () => {
    const bytes = all(
      begin(1),
      rec(FCGI_PARAMS, 1, encodePairs([['A', '1']])),
      stdin(1, 'early'),
      params(1, []),
      stdinEnd(1),
    );
    check(bytes, [
      ['begin', 1, FCGI_RESPONDER, true],
      ['error', 'ERR_FCGI_STDIN_BEFORE_PARAMS_END', 1],
    ]);
    const { recorder, parser } = parse([bytes]);
    expect(recorder.errors[0].status).toBe(400);
    expect(recorder.errors[0].fatal).toBe(false);
    expect(parser.isActive(1)).toBe(true); // until the connection sends END_REQUEST
    expect(parser.bufferedBytes).toBe(0);
  });

  test('even an empty STDIN before PARAMS ended is an error', () => {
    check(all(begin(1), stdinEnd(1)), [
      ['begin', 1, FCGI_RESPONDER, true],
      ['error', 'ERR_FCGI_STDIN_BEFORE_PARAMS_END', 1],
    ]);
  });

  test('DATA before the PARAMS stream ended is ERR_FCGI_DATA_BEFORE_PARAMS_END', () => {
    check(all(begin(1, FCGI_FILTER), rec(FCGI_DATA, 1, 'd')), [
      ['begin', 1, FCGI_FILTER, true],
      ['error', 'ERR_FCGI_DATA_BEFORE_PARAMS_END', 1],
    ]);
  });

  test('STDIN data after its end is ERR_FCGI_STREAM_AFTER_END; a repeated empty STDIN is ignored', () => {
    check(all(begin(1), params(1, []), stdinEnd(1), stdinEnd(1), stdin(1, 'late')), [
      ['begin', 1, FCGI_RESPONDER, true],
      ['params', 1, []],
      ['stdinEnd', 1],
      ['error', 'ERR_FCGI_STREAM_AFTER_END', 1],
    ]);
    check(
      all(begin(1, FCGI_FILTER), params(1, []), streamEndRecord(FCGI_DATA, 1), rec(FCGI_DATA, 1, 'late')),
      [
        ['begin', 1, FCGI_FILTER, true],
        ['params', 1, []],
        ['dataEnd', 1],
        ['error', 'ERR_FCGI_STREAM_AFTER_END', 1],
      ],
    );
  });

  test('ABORT_REQUEST closes the request: later input for it is ignored', () => {
    check(
      all(
        begin(1),
        params(1, []),
        stdin(1, 'part'),
        abortRequestRecord(1),
        stdin(1, 'more'),
        abortRequestRecord(1),
        stdinEnd(1),
      ),
      [
        ['begin', 1, FCGI_RESPONDER, true],
        ['params', 1, []],
        ['stdin', 1, 'part'],
        ['abort', 1],
      ],
    );
  });

  test('ABORT_REQUEST during PARAMS drops the buffered PARAMS; content on an abort is skipped', () => {
    const bytes = all(
      begin(1),
      rec(FCGI_PARAMS, 1, 'partial'),
      rec(FCGI_ABORT_REQUEST, 1, 'odd content', 255),
      params(1, []),
    );
    check(bytes, [
      ['begin', 1, FCGI_RESPONDER, true],
      ['abort', 1],
    ]);
    expect(parse([bytes]).parser.bufferedBytes).toBe(0);
  });

  test('requestDone from inside stdin() drops the rest of that record', () => {
    check(
      all(begin(1), params(1, []), stdin(1, 'abcdef'), stdin(1, 'ghi'), stdinEnd(1), NGINX_GET),
      [['begin', 1, FCGI_RESPONDER, true], ['params', 1, []], ['stdin', 1, 'a'], ...NGINX_GET_EVENTS],
      {
        // Stop the request after the first piece, whatever its size: only 'a' of it counts here.
        hooks: {
          onEvent: (event, parser) => {
            if (event[0] === 'stdin' && event[2].length >= 1 && parser.isActive(1)) {
              event[2] = event[2].slice(0, 1);
              parser.requestDone(1);
            }
          },
        },
      },
    );
  });

  test('push and end from inside a sink callback keep the order', () => {
    const second = NGINX_GET.subarray(16);
    const { events, violations } = parse(
      [NGINX_GET.subarray(0, 16)],
      {},
      {
        onEvent: (event, parser) => {
          if (event[0] === 'begin') {
            parser.push(second);
            parser.end();
          }
        },
      },
      false,
    );
    expect(violations).toEqual([]);
    expect(events).toEqual(NGINX_GET_EVENTS);
  });
});

describe('zero copy', () => {
  test('STDIN arrives as views of the pushed chunk', () => {
    const body = Buffer.alloc(60_000, 0x61);
    const bytes = all(begin(1), params(1, []), stdin(1, body), stdinEnd(1));
    const { recorder } = parse([bytes]);
    expect(recorder.stdinChunks).toHaveLength(1);
    expect(recorder.stdinChunks[0].buffer).toBe(bytes.buffer);
    expect(recorder.stdinChunks[0].length).toBe(60_000);
  });

  test('a record split across chunks is delivered as one view per chunk, never copied', () => {
    const body = Buffer.alloc(60_000, 0x62);
    const bytes = all(begin(1), params(1, []), stdin(1, body));
    const cut = bytes.length - 25_000;
    const first = Buffer.from(bytes.subarray(0, cut)); // separate memory for each chunk
    const second = Buffer.from(bytes.subarray(cut));
    const { recorder } = parse([first, second], {}, {}, false);
    expect(recorder.stdinChunks.map((c) => c.length)).toEqual([35_000, 25_000]);
    expect(recorder.stdinChunks[0].buffer).toBe(first.buffer);
    expect(recorder.stdinChunks[1].buffer).toBe(second.buffer);
  });

  test('bodies over 65535 bytes come through whole', () => {
    const body = Buffer.alloc(300_000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
    check(
      all(begin(1), params(1, []), stdin(1, body), stdinEnd(1)),
      [
        ['begin', 1, FCGI_RESPONDER, true],
        ['params', 1, []],
        ['stdin', 1, body.toString('latin1')],
        ['stdinEnd', 1],
      ],
      { splits: { everyOffsetUpTo: 64, oneByteAtATime: false } },
    );
  });
});

describe('management records (spec §4)', () => {
  test('GET_VALUES gives the names asked for, at any time, without disturbing requests', () => {
    const query = getValuesRecord([FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS, 'X_UNKNOWN']);
    check(all(query, begin(1), query, params(1, []), stdinEnd(1)), [
      ['getValues', [FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS, 'X_UNKNOWN']],
      ['begin', 1, FCGI_RESPONDER, true],
      ['getValues', [FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS, 'X_UNKNOWN']],
      ['params', 1, []],
      ['stdinEnd', 1],
    ]);
  });

  test('GET_VALUES as raw bytes, with values (ignored) and padding', () => {
    check(
      hex(`
        01 09 0000 0013 05 00          # GET_VALUES, null id, 19 bytes, padding 5
        0d 04 ${t('FCGI_MAX_REQS')} ${t('junk')}   # name 13, value 4 (should be empty; ignored)
        eeeeeeeeee                     # padding
        01 09 0000 0000 00 00          # an empty GET_VALUES asks for nothing
      `),
      [
        ['getValues', [FCGI_MAX_REQS]],
        ['getValues', []],
      ],
    );
  });

  test('a malformed GET_VALUES is ERR_FCGI_BAD_PAIR, fatal', () => {
    check(rec(FCGI_GET_VALUES, 0, hex('0d 00 4643')), [['error', 'ERR_FCGI_BAD_PAIR', undefined]]);
  });

  test.each([
    ['a type this version does not define', 12],
    ['the largest type', 255],
    ['type 0', 0],
    ['an application type on the null id', FCGI_BEGIN_REQUEST],
    ['GET_VALUES_RESULT', FCGI_GET_VALUES_RESULT],
    ['UNKNOWN_TYPE', FCGI_UNKNOWN_TYPE],
  ])('%s on the null id asks for UNKNOWN_TYPE, its content skipped', (_what, type) => {
    check(all(rec(type, 0, 'some content', 3), NGINX_GET), [['unknownType', type], ...NGINX_GET_EVENTS]);
  });

  test.each([
    ['GET_VALUES', FCGI_GET_VALUES, 'ERR_FCGI_MANAGEMENT_ON_REQUEST_ID'],
    ['GET_VALUES_RESULT', FCGI_GET_VALUES_RESULT, 'ERR_FCGI_MANAGEMENT_ON_REQUEST_ID'],
    ['UNKNOWN_TYPE', FCGI_UNKNOWN_TYPE, 'ERR_FCGI_MANAGEMENT_ON_REQUEST_ID'],
    ['END_REQUEST', FCGI_END_REQUEST, 'ERR_FCGI_UNEXPECTED_TYPE'],
    ['STDOUT', FCGI_STDOUT, 'ERR_FCGI_UNEXPECTED_TYPE'],
    ['STDERR', FCGI_STDERR, 'ERR_FCGI_UNEXPECTED_TYPE'],
    ['type 12', 12, 'ERR_FCGI_UNEXPECTED_TYPE'],
    ['type 255', 255, 'ERR_FCGI_UNEXPECTED_TYPE'],
  ])('%s on an active request id ends that request', (_what, type, code) => {
    check(all(begin(1), begin(2), rec(type, 1, 'xyz'), params(1, []), params(2, [])), [
      ['begin', 1, FCGI_RESPONDER, true],
      ['begin', 2, FCGI_RESPONDER, true],
      ['error', code as FastCgiErrorCode, 1],
      ['params', 2, []],
    ]);
  });
});

describe('bytes that are not FastCGI', () => {
  test.each([
    ['an HTTP/1.1 request', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a POST', 'POST /form HTTP/1.0\r\n\r\n'],
    ['HTTP/2 prior knowledge', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
    ['a lower-case method from a hand-typed request', 'get /x\r\n\r\n'],
    [
      'an SCGI request (scgi_pass pointed at the FastCGI port)',
      '70:CONTENT_LENGTH\u00000\u0000SCGI\u00001\u0000,',
    ],
  ])('%s is ERR_FCGI_NOT_FASTCGI', (_what, text) => {
    check(latin1(text), [['error', 'ERR_FCGI_NOT_FASTCGI', undefined]]);
  });

  test('a TLS ClientHello is ERR_FCGI_NOT_FASTCGI', () => {
    check(hex('16 0301 00c8 01 0000c4 0303'), [['error', 'ERR_FCGI_NOT_FASTCGI', undefined]]);
  });

  test.each([
    ['version 0', hex('00 01 0001 0008 00 00')],
    ['version 2', hex('02 01 0001 0008 00 00')],
    ['version 255', hex('ff 05 0001 0000 00 00')],
  ])('%s in the first header is ERR_FCGI_BAD_VERSION', (_what, bytes) => {
    check(bytes, [['error', 'ERR_FCGI_BAD_VERSION', undefined]]);
  });

  test('a bad version later on is ERR_FCGI_BAD_VERSION even when it reads like text', () => {
    check(all(NGINX_GET, latin1('GET / HTTP/1.1\r\n\r\n')), [
      ...NGINX_GET_EVENTS,
      ['error', 'ERR_FCGI_BAD_VERSION', undefined],
    ]);
    check(all(begin(1), rec(FCGI_PARAMS, 1, '', 0, 2)), [
      ['begin', 1, FCGI_RESPONDER, true],
      ['error', 'ERR_FCGI_BAD_VERSION', undefined],
    ]);
  });

  test('fewer than 8 bytes then EOF is ERR_FCGI_TRUNCATED, whatever they are', () => {
    check(latin1('GET /'), [['error', 'ERR_FCGI_TRUNCATED', undefined]]);
  });
});

describe('end of input', () => {
  test('EOF between records is clean; EOF inside any record is ERR_FCGI_TRUNCATED', () => {
    const stream = all(
      NGINX_GET,
      POST,
      begin(2),
      params(2, [['A', 'b'.repeat(40)]], 16),
      stdin(2, 'xyz'),
      stdinEnd(2),
    );
    const boundaries = recordBoundaries(stream);
    const wrong: string[] = [];
    for (let cut = 1; cut <= stream.length; cut++) {
      const { events, violations } = parse([stream.subarray(0, cut)], {}, { doneAfter: ['stdinEnd'] });
      const last = events[events.length - 1];
      const truncated = last[0] === 'error' && last[1] === 'ERR_FCGI_TRUNCATED';
      if (truncated === boundaries.has(cut)) wrong.push(`cut at ${cut}: truncated=${truncated}`);
      if (violations.length !== 0) wrong.push(`cut at ${cut}: ${violations.join(', ')}`);
    }
    expect(wrong).toEqual([]);
  });

  test('EOF inside padding is ERR_FCGI_TRUNCATED', () => {
    check(all(begin(1), rec(FCGI_PARAMS, 1, '', 200).subarray(0, 100)), [
      ['begin', 1, FCGI_RESPONDER, true],
      ['params', 1, []], // events fire when a record's content is complete, before its padding
      ['error', 'ERR_FCGI_TRUNCATED', undefined],
    ]);
  });

  test('end() twice and push() after end() are ignored', () => {
    const { parser, recorder } = parse([NGINX_GET]);
    parser.end();
    parser.push(NGINX_GET);
    expect(recorder.events).toEqual(NGINX_GET_EVENTS);
    expect(parser.errored).toBe(false);
  });

  test('empty chunks are harmless', () => {
    const { events } = parse([Buffer.alloc(0), NGINX_GET, Buffer.alloc(0)]);
    expect(events).toEqual(NGINX_GET_EVENTS);
  });
});

describe('writer round trips', () => {
  test('client-side records parse back to what was written', () => {
    const random = seededRandom(0xfc61);
    for (let round = 0; round < 20; round++) {
      const id = 1 + Math.floor(random() * 65535);
      const pairs: Array<[string, string]> = Array.from({ length: Math.floor(random() * 50) }, (_, i) => [
        `NAME_${i}_${'n'.repeat(Math.floor(random() * 150))}`,
        String.fromCharCode(
          ...Array.from({ length: Math.floor(random() * 300) }, () => Math.floor(random() * 256)),
        ),
      ]);
      const body = Buffer.alloc(Math.floor(random() * 100_000));
      for (let i = 0; i < body.length; i++) body[i] = Math.floor(random() * 256);
      const maxContent = random() < 0.5 ? 65535 : 1 + Math.floor(random() * 4000);
      const bytes = all(
        beginRequestRecord(id, FCGI_RESPONDER, FCGI_KEEP_CONN),
        ...paramsRecords(id, pairs, maxContent),
        ...stdinRecords(id, body, maxContent),
        streamEndRecord(FCGI_STDIN, id),
        abortRequestRecord(id),
        getValuesRecord([FCGI_MPXS_CONNS]),
      );
      const expected: Event[] = [
        ['begin', id, FCGI_RESPONDER, true],
        ['params', id, pairs.flat()],
        ...(body.length > 0 ? [['stdin', id, body.toString('latin1')] as Event] : []),
        ['stdinEnd', id],
        ['abort', id],
        ['getValues', [FCGI_MPXS_CONNS]],
      ];
      // Whole, and in random chunk sizes.
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length;) {
        const size = 1 + Math.floor(random() * 9000);
        chunks.push(bytes.subarray(at, at + size));
        at += size;
      }
      for (const feed of [[bytes], chunks]) {
        const { events, violations } = parse(feed);
        expect(violations).toEqual([]);
        if (JSON.stringify(events) !== JSON.stringify(expected))
          expect({ round, events }).toEqual({ round, events: expected });
      }
    }
  });
});
