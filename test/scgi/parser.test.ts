// ScgiParser against byte vectors, each fed whole, split at every offset, and one byte at a time.
import { isDeepStrictEqual } from 'node:util';
import { ProtocolError, SluiceError } from '../../src/errors';
import { DEFAULT_LIMITS } from '../../src/runtime/limits';
import { SCGI_ERROR_STATUS, ScgiProtocolError, type ScgiErrorCode } from '../../src/scgi/errors';
import { ScgiParser, type HeaderPairs, type ScgiParserOptions } from '../../src/scgi/parser';
import { Recorder, run, type Event, type Run } from './recorder';

// ---------------------------------------------------------------------------------------------
// Feeding

/** Whole, split into two at every offset (empty halves included), and one byte at a time. */
function* feeds(bytes: Buffer): Generator<[string, Buffer[]]> {
  yield ['whole', [bytes]];
  for (let i = 0; i <= bytes.length; i++) {
    yield [`split at ${i}`, [bytes.subarray(0, i), bytes.subarray(i)]];
  }
  const single: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) single.push(bytes.subarray(i, i + 1));
  yield ['byte at a time', single];
}

/** Every feed must give `expected`, the same events with no broken contract. */
function expectEveryFeed(bytes: Buffer, expected: Event[], options?: ScgiParserOptions): void {
  for (const [feed, chunks] of feeds(bytes)) {
    const { events, violations } = run(chunks, options);
    // Compare first and assert only on a mismatch: thousands of feeds per vector.
    if (!isDeepStrictEqual(events, expected) || violations.length > 0) {
      expect({ feed, events, violations }).toEqual({ feed, events: expected, violations: [] });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Vector building: a vector is its parts concatenated as latin1, so every field can carry a comment.

const bytes = (...parts: string[]): Buffer => Buffer.from(parts.join(''), 'latin1');

/** A well-formed request: the netstring length is computed from the fields given. */
function request(fields: string[], body = '', after = ''): Buffer {
  const block = fields.join('');
  return bytes(`${Buffer.byteLength(block, 'latin1')}:`, block, ',', body, after);
}

const headers = (pairs: HeaderPairs, contentLength: number): Event => ({
  type: 'headers',
  pairs,
  contentLength,
});
const body = (data: string): Event => ({ type: 'body', data });
const bodyEnd: Event = { type: 'bodyEnd' };
const excess = (n: number): Event => ({ type: 'excess', bytes: n });
const error = (code: ScgiErrorCode, status: 400 | 413 | undefined): Event => ({
  type: 'error',
  code,
  status,
});

interface Row {
  name: string;
  bytes: Buffer;
  expected: Event[];
  options?: ScgiParserOptions;
}

// ---------------------------------------------------------------------------------------------
// Well-formed requests

const BIG_VALUE = 'v'.repeat(60 * 1024);

const valid: Row[] = [
  // prettier-ignore
  {
    // SCGI protocol.txt's own example; Apache mod_proxy_scgi's order (CONTENT_LENGTH, SCGI, env).
    name: 'Apache style: SCGI second, body in the same chunk',
    bytes: bytes(
      '70:', // netstring length: 70 header bytes
      'CONTENT_LENGTH\0', '27\0', // required first header
      'SCGI\0', '1\0', // protocol version, second
      'REQUEST_METHOD\0', 'POST\0',
      'REQUEST_URI\0', '/deepthought\0',
      ',', // netstring end
      'What is the answer to life?', // body, 27 bytes
    ),
    expected: [
      headers(['CONTENT_LENGTH', '27', 'SCGI', '1', 'REQUEST_METHOD', 'POST', 'REQUEST_URI', '/deepthought'], 27),
      body('What is the answer to life?'),
      bodyEnd,
    ],
  },
  // prettier-ignore
  {
    // nginx without `include scgi_params`: CONTENT_LENGTH "0" for a GET, no SCGI header at all.
    name: 'nginx style: no SCGI header, CONTENT_LENGTH 0, no body',
    bytes: request([
      'CONTENT_LENGTH\0', '0\0', // nginx always sends it first
      'REQUEST_METHOD\0', 'GET\0',
      'REQUEST_URI\0', '/hello?x=1\0',
      'QUERY_STRING\0', 'x=1\0',
      'HTTP_HOST\0', 'example.org\0',
      'HTTP_ACCEPT\0', '*/*\0',
    ]),
    expected: [
      headers(
        [
          'CONTENT_LENGTH', '0', 'REQUEST_METHOD', 'GET', 'REQUEST_URI', '/hello?x=1',
          'QUERY_STRING', 'x=1', 'HTTP_HOST', 'example.org', 'HTTP_ACCEPT', '*/*',
        ],
        0,
      ),
      bodyEnd,
    ],
  },
  // prettier-ignore
  {
    // lighttpd mod_scgi: CONTENT_LENGTH first, SCGI=1 last.
    name: 'lighttpd style: SCGI last',
    bytes: request(
      [
        'CONTENT_LENGTH\0', '5\0',
        'REQUEST_METHOD\0', 'PUT\0',
        'CONTENT_TYPE\0', 'text/plain\0',
        'SCGI\0', '1\0', // last
      ],
      'hello', // body
    ),
    expected: [
      headers(['CONTENT_LENGTH', '5', 'REQUEST_METHOD', 'PUT', 'CONTENT_TYPE', 'text/plain', 'SCGI', '1'], 5),
      body('hello'),
      bodyEnd,
    ],
  },
  {
    name: 'empty value in the middle',
    bytes: request(['CONTENT_LENGTH\0', '0\0', 'QUERY_STRING\0', '\0', 'REQUEST_METHOD\0', 'GET\0']),
    expected: [headers(['CONTENT_LENGTH', '0', 'QUERY_STRING', '', 'REQUEST_METHOD', 'GET'], 0), bodyEnd],
  },
  {
    // passenger #370: a block ending NUL NUL must not be mistaken for an odd field count.
    name: 'empty last value',
    bytes: request(['CONTENT_LENGTH\0', '0\0', 'REQUEST_METHOD\0', 'GET\0', 'HTTP_X_EMPTY\0', '\0']),
    expected: [headers(['CONTENT_LENGTH', '0', 'REQUEST_METHOD', 'GET', 'HTTP_X_EMPTY', ''], 0), bodyEnd],
  },
  {
    name: 'CONTENT_LENGTH alone, 0, no body',
    bytes: bytes('17:', 'CONTENT_LENGTH\0', '0\0', ','),
    expected: [headers(['CONTENT_LENGTH', '0'], 0), bodyEnd],
  },
  {
    name: 'bytes after the body are excess',
    bytes: request(['CONTENT_LENGTH\0', '3\0'], 'abc', 'EXTRA'),
    expected: [headers(['CONTENT_LENGTH', '3'], 3), body('abc'), bodyEnd, excess(5)],
  },
  {
    name: 'bytes after an empty body are excess',
    bytes: request(['CONTENT_LENGTH\0', '0\0'], '', 'GET / HTTP/1.1\r\n'),
    expected: [headers(['CONTENT_LENGTH', '0'], 0), bodyEnd, excess(16)],
  },
  {
    name: 'body holding NUL, comma and digits',
    bytes: request(['CONTENT_LENGTH\0', '6\0'], '\0,12:\0'),
    expected: [headers(['CONTENT_LENGTH', '6'], 6), body('\0,12:\0'), bodyEnd],
  },
  {
    name: 'a 60 kB header value',
    bytes: request(['CONTENT_LENGTH\0', '2\0', 'HTTP_COOKIE\0', `${BIG_VALUE}\0`, 'SCGI\0', '1\0'], 'ok'),
    expected: [
      headers(['CONTENT_LENGTH', '2', 'HTTP_COOKIE', BIG_VALUE, 'SCGI', '1'], 2),
      body('ok'),
      bodyEnd,
    ],
  },
  // prettier-ignore
  {
    // Forbidden by the spec, sent anyway; the environ builder merges them, the parser keeps them apart.
    name: 'duplicate names passed through as separate pairs',
    bytes: request([
      'CONTENT_LENGTH\0', '0\0',
      'HTTP_COOKIE\0', 'a=1\0',
      'HTTP_X_FORWARDED_FOR\0', '10.0.0.1\0',
      'HTTP_COOKIE\0', 'b=2\0', // repeated
      'HTTP_X_FORWARDED_FOR\0', '10.0.0.2\0', // repeated
      'SCGI\0', '1\0',
      'SCGI\0', '1\0', // repeated
    ]),
    expected: [
      headers(
        [
          'CONTENT_LENGTH', '0', 'HTTP_COOKIE', 'a=1', 'HTTP_X_FORWARDED_FOR', '10.0.0.1',
          'HTTP_COOKIE', 'b=2', 'HTTP_X_FORWARDED_FOR', '10.0.0.2', 'SCGI', '1', 'SCGI', '1',
        ],
        0,
      ),
      bodyEnd,
    ],
  },
  {
    name: 'bytes 0x80-0xff survive as latin1',
    bytes: request(['CONTENT_LENGTH\0', '0\0', 'HTTP_X_NAME\0', 'caf\xe9 \xff\x80\0']),
    expected: [headers(['CONTENT_LENGTH', '0', 'HTTP_X_NAME', 'caf\xe9 \xff\x80'], 0), bodyEnd],
  },
  {
    // Decision: CONTENT_LENGTH is "ASCII digits"; leading zeros are digits, so 007 is 7.
    name: 'CONTENT_LENGTH with leading zeros',
    bytes: request(['CONTENT_LENGTH\0', '007\0'], 'seven!!'),
    expected: [headers(['CONTENT_LENGTH', '007'], 7), body('seven!!'), bodyEnd],
  },
  {
    // Decision: SCGI is not validated; any value (or none) is passed through.
    name: 'SCGI with another value passed through',
    bytes: request(['CONTENT_LENGTH\0', '0\0', 'SCGI\0', '2\0']),
    expected: [headers(['CONTENT_LENGTH', '0', 'SCGI', '2'], 0), bodyEnd],
  },
  {
    name: 'names are case-sensitive: content_length is not CONTENT_LENGTH',
    bytes: request(['CONTENT_LENGTH\0', '0\0', 'content_length\0', 'x\0']),
    expected: [headers(['CONTENT_LENGTH', '0', 'content_length', 'x'], 0), bodyEnd],
  },
  {
    name: 'header block exactly at maxHeaderBytes',
    bytes: bytes('17:', 'CONTENT_LENGTH\0', '0\0', ','),
    options: { maxHeaderBytes: 17 },
    expected: [headers(['CONTENT_LENGTH', '0'], 0), bodyEnd],
  },
  {
    // The body limit is the request core's (test/runtime), not the parser's.
    name: 'a body of any length a Number holds',
    bytes: request(['CONTENT_LENGTH\0', '4\0'], 'four'),
    expected: [headers(['CONTENT_LENGTH', '4'], 4), body('four'), bodyEnd],
  },
];

// ---------------------------------------------------------------------------------------------
// Malformed requests: code and status, never message text

const CL0 = ['CONTENT_LENGTH\0', '0\0'];

const malformed: Row[] = [
  // ERR_SCGI_BAD_LENGTH
  { name: 'length empty', bytes: bytes(':', ...CL0, ','), expected: [error('ERR_SCGI_BAD_LENGTH', 400)] },
  { name: 'length not a digit', bytes: bytes('x:'), expected: [error('ERR_SCGI_BAD_LENGTH', 400)] },
  { name: 'length with a sign', bytes: bytes('+17:'), expected: [error('ERR_SCGI_BAD_LENGTH', 400)] },
  { name: 'length with leading space', bytes: bytes(' 17:'), expected: [error('ERR_SCGI_BAD_LENGTH', 400)] },
  { name: 'length with trailing space', bytes: bytes('17 :'), expected: [error('ERR_SCGI_BAD_LENGTH', 400)] },
  {
    name: 'length with a leading zero',
    bytes: bytes('017:', ...CL0, ','),
    expected: [error('ERR_SCGI_BAD_LENGTH', 400)],
  },
  { name: 'length 00', bytes: bytes('00:'), expected: [error('ERR_SCGI_BAD_LENGTH', 400)] },
  {
    name: 'length that is a request line',
    bytes: bytes('GET / HTTP/1.1\r\n'),
    expected: [error('ERR_SCGI_BAD_LENGTH', 400)],
  },
  {
    // With no finite limit, the digit count is what stops a length.
    name: 'length of 16 digits with an infinite limit',
    bytes: bytes('1234567890123456:'),
    options: { maxHeaderBytes: Infinity },
    expected: [error('ERR_SCGI_BAD_LENGTH', 400)],
  },

  // ERR_SCGI_HEADER_TOO_LARGE
  {
    name: 'length one over the default 1 MiB',
    bytes: bytes(`${DEFAULT_LIMITS.maxHeaderBytes + 1}:`),
    expected: [error('ERR_SCGI_HEADER_TOO_LARGE', 413)],
  },
  {
    name: 'length of 20 nines',
    bytes: bytes('99999999999999999999:'),
    expected: [error('ERR_SCGI_HEADER_TOO_LARGE', 413)],
  },
  {
    name: 'length over a small limit',
    bytes: bytes('18:', ...CL0, 'X\0', ','),
    options: { maxHeaderBytes: 17 },
    expected: [error('ERR_SCGI_HEADER_TOO_LARGE', 413)],
  },
  {
    name: 'any length over a zero limit',
    bytes: bytes('1:'),
    options: { maxHeaderBytes: 0 },
    expected: [error('ERR_SCGI_HEADER_TOO_LARGE', 413)],
  },

  // ERR_SCGI_MISSING_COMMA
  {
    name: 'body where the comma belongs',
    bytes: bytes('17:', 'CONTENT_LENGTH\0', '5\0', 'hello'),
    expected: [error('ERR_SCGI_MISSING_COMMA', 400)],
  },
  {
    name: 'semicolon for comma',
    bytes: bytes('17:', ...CL0, ';'),
    expected: [error('ERR_SCGI_MISSING_COMMA', 400)],
  },

  // ERR_SCGI_ODD_FIELDS
  {
    name: 'name without a value',
    bytes: bytes('22:', ...CL0, 'SCGI\0', ','),
    expected: [error('ERR_SCGI_ODD_FIELDS', 400)],
  },
  {
    name: 'block not ending in NUL',
    bytes: bytes('23:', ...CL0, 'SCGI\0', '1', ','),
    expected: [error('ERR_SCGI_ODD_FIELDS', 400)],
  },
  {
    // A stated length one too long swallows the comma into the block.
    name: 'length one too long',
    bytes: bytes('18:', ...CL0, ',', 'x'),
    expected: [error('ERR_SCGI_ODD_FIELDS', 400)],
  },
  {
    name: 'length one too short',
    bytes: bytes('16:', 'CONTENT_LENGTH\0', '0', '\0,'),
    expected: [error('ERR_SCGI_ODD_FIELDS', 400)],
  },
  {
    name: 'block of one NUL-less byte',
    bytes: bytes('1:', 'x', ','),
    expected: [error('ERR_SCGI_ODD_FIELDS', 400)],
  },

  // ERR_SCGI_EMPTY_NAME
  {
    name: 'empty first name',
    bytes: bytes('4:', '\0', 'x\0', '\0', ','),
    expected: [error('ERR_SCGI_EMPTY_NAME', 400)],
  },
  {
    name: 'empty name after CONTENT_LENGTH',
    bytes: bytes('20:', ...CL0, '\0', 'x\0', ','),
    expected: [error('ERR_SCGI_EMPTY_NAME', 400)],
  },
  {
    name: 'block of two NULs',
    bytes: bytes('2:', '\0\0', ','),
    expected: [error('ERR_SCGI_EMPTY_NAME', 400)],
  },

  // ERR_SCGI_CONTENT_LENGTH_MISSING
  {
    // "0" is a well-formed length, but an empty block cannot hold the required CONTENT_LENGTH.
    name: 'length 0: empty block',
    bytes: bytes('0:', ','),
    expected: [error('ERR_SCGI_CONTENT_LENGTH_MISSING', 400)],
  },
  {
    name: 'no CONTENT_LENGTH',
    bytes: request(['SCGI\0', '1\0', 'REQUEST_METHOD\0', 'GET\0']),
    expected: [error('ERR_SCGI_CONTENT_LENGTH_MISSING', 400)],
  },

  // ERR_SCGI_CONTENT_LENGTH_NOT_FIRST
  {
    name: 'CONTENT_LENGTH second',
    bytes: request(['SCGI\0', '1\0', ...CL0]),
    expected: [error('ERR_SCGI_CONTENT_LENGTH_NOT_FIRST', 400)],
  },

  // ERR_SCGI_CONTENT_LENGTH_INVALID
  ...['', 'abc', ' 5', '5 ', '+5', '-1', '0x10', '1e3', '5\t', '1.0'].map((value): Row => ({
    name: `CONTENT_LENGTH ${JSON.stringify(value)}`,
    bytes: request(['CONTENT_LENGTH\0', `${value}\0`]),
    expected: [error('ERR_SCGI_CONTENT_LENGTH_INVALID', 400)],
  })),

  // ERR_SCGI_CONTENT_LENGTH_DUPLICATE
  {
    name: 'CONTENT_LENGTH twice, same value',
    bytes: request([...CL0, 'SCGI\0', '1\0', ...CL0]),
    expected: [error('ERR_SCGI_CONTENT_LENGTH_DUPLICATE', 400)],
  },
  {
    name: 'CONTENT_LENGTH twice, different values',
    bytes: request(['CONTENT_LENGTH\0', '0\0', 'CONTENT_LENGTH\0', '5\0'], 'hello'),
    expected: [error('ERR_SCGI_CONTENT_LENGTH_DUPLICATE', 400)],
  },

  {
    // Beyond 2^53 a Number is no longer exact.
    name: 'CONTENT_LENGTH of 30 digits',
    bytes: request(['CONTENT_LENGTH\0', `${'9'.repeat(30)}\0`]),
    expected: [error('ERR_SCGI_CONTENT_LENGTH_INVALID', 400)],
  },

  // First violation in byte order wins.
  {
    name: 'odd fields after an invalid CONTENT_LENGTH',
    bytes: request(['CONTENT_LENGTH\0', 'x\0', 'SCGI\0']),
    expected: [error('ERR_SCGI_CONTENT_LENGTH_INVALID', 400)],
  },
  {
    name: 'missing comma after a bad block',
    bytes: bytes('4:', 'A\0', 'B\0', ';'),
    expected: [error('ERR_SCGI_CONTENT_LENGTH_MISSING', 400)],
  },

  // ERR_SCGI_TRUNCATED: end of input before the header netstring is complete (no status: peer gone).
  { name: 'EOF before any byte', bytes: bytes(''), expected: [error('ERR_SCGI_TRUNCATED', undefined)] },
  { name: 'EOF mid-length', bytes: bytes('7'), expected: [error('ERR_SCGI_TRUNCATED', undefined)] },
  { name: 'EOF after the colon', bytes: bytes('17:'), expected: [error('ERR_SCGI_TRUNCATED', undefined)] },
  {
    name: 'EOF mid-headers',
    bytes: bytes('17:', 'CONTENT_LEN'),
    expected: [error('ERR_SCGI_TRUNCATED', undefined)],
  },
  {
    name: 'EOF before the comma',
    bytes: bytes('17:', ...CL0),
    expected: [error('ERR_SCGI_TRUNCATED', undefined)],
  },

  // ERR_SCGI_BODY_TRUNCATED: the request was dispatched; its body fails.
  {
    name: 'EOF right after the comma',
    bytes: request(['CONTENT_LENGTH\0', '5\0']),
    expected: [headers(['CONTENT_LENGTH', '5'], 5), error('ERR_SCGI_BODY_TRUNCATED', undefined)],
  },
  {
    name: 'EOF mid-body',
    bytes: request(['CONTENT_LENGTH\0', '5\0'], 'hel'),
    expected: [headers(['CONTENT_LENGTH', '5'], 5), body('hel'), error('ERR_SCGI_BODY_TRUNCATED', undefined)],
  },
];

describe('ScgiParser: well-formed requests', () => {
  test.each(valid)('$name', ({ bytes, expected, options }) => {
    expectEveryFeed(bytes, expected, options);
  });
});

describe('ScgiParser: malformed requests', () => {
  test.each(malformed)('$name', ({ bytes, expected, options }) => {
    expectEveryFeed(bytes, expected, options);
  });

  test('every code is exercised with its status', () => {
    const seen = new Map<string, number | undefined>();
    for (const row of malformed) {
      for (const event of row.expected) if (event.type === 'error') seen.set(event.code, event.status);
    }
    expect(Object.fromEntries(seen)).toEqual(SCGI_ERROR_STATUS);
  });
});

// ---------------------------------------------------------------------------------------------
// Limits and memory

describe('ScgiParser: limits are checked before buffering', () => {
  /** Pushes one byte at a time; returns how many went in when the error came. */
  function bytesUntilError(input: Buffer, options?: ScgiParserOptions): { at: number; run: Run } {
    const recorder = new Recorder();
    const parser = new ScgiParser(recorder, options);
    for (let i = 0; i < input.length; i++) {
      parser.push(input.subarray(i, i + 1));
      if (recorder.events.some((e) => e.type === 'error')) {
        return {
          at: i + 1,
          run: { events: recorder.events, violations: recorder.violations, parser, recorder },
        };
      }
    }
    throw new Error('no error');
  }

  test('a length over the limit is refused on the digit that crosses it, before the colon', () => {
    // 1 MiB = 1048576 (7 digits): "9999999" crosses on the 7th digit.
    const { at, run: r } = bytesUntilError(bytes('99999999999:', 'x'.repeat(100)));
    expect(at).toBe(7);
    expect(r.events).toEqual([error('ERR_SCGI_HEADER_TOO_LARGE', 413)]);
    expect(r.parser.highWaterMark).toBe(0);

    // Limit 100: "1", "10", "101" crosses on the 3rd digit.
    expect(bytesUntilError(bytes('1010:'), { maxHeaderBytes: 100 }).at).toBe(3);
    // "1048577" only crosses on its last digit.
    expect(bytesUntilError(bytes('1048577:')).at).toBe(7);
  });

  test('an oversized block pushed whole is not retained', () => {
    const huge = bytes(`${2 * 1024 * 1024}:`, 'x'.repeat(2 * 1024 * 1024), ',');
    const r = run([huge], undefined, false);
    expect(r.events).toEqual([error('ERR_SCGI_HEADER_TOO_LARGE', 413)]);
    expect(r.parser.bufferedBytes).toBe(0);
    expect(r.parser.highWaterMark).toBe(0);
  });

  test('an oversized block in 64 KiB pushes keeps nothing and ignores the rest', () => {
    const recorder = new Recorder();
    const parser = new ScgiParser(recorder);
    parser.push(bytes('2097152:'));
    for (let i = 0; i < 32; i++) parser.push(Buffer.alloc(64 * 1024, 0x41));
    parser.end();
    expect(recorder.events).toEqual([error('ERR_SCGI_HEADER_TOO_LARGE', 413)]);
    expect(parser.highWaterMark).toBe(0);
    expect(parser.bytesReceived).toBe(8);
  });

  test('the retained header block never exceeds maxHeaderBytes; body bytes are never retained', () => {
    const fields = ['CONTENT_LENGTH\0', '1048576\0', 'HTTP_X\0', `${'y'.repeat(1000)}\0`];
    const head = request(fields);
    const blockLength = fields.join('').length;
    const recorder = new Recorder();
    const parser = new ScgiParser(recorder, { maxHeaderBytes: blockLength });
    for (let i = 0; i < head.length; i += 7) parser.push(head.subarray(i, i + 7));
    expect(parser.highWaterMark).toBeLessThanOrEqual(blockLength);
    expect(parser.highWaterMark).toBeGreaterThanOrEqual(blockLength - 7);
    for (let i = 0; i < 16; i++) {
      parser.push(Buffer.alloc(64 * 1024, i));
      expect(parser.bufferedBytes).toBe(0);
    }
    parser.end();
    expect(parser.highWaterMark).toBeLessThanOrEqual(blockLength);
    expect(recorder.violations).toEqual([]);
    expect(recorder.events.map((e) => e.type)).toEqual(['headers', 'body', 'bodyEnd']);
  });

  test('a request fed whole retains nothing', () => {
    const r = run([valid[0].bytes]);
    expect(r.parser.highWaterMark).toBe(0);
    expect(r.parser.bufferedBytes).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Delivery details

describe('ScgiParser: delivery', () => {
  test('headers are dispatched before the body arrives; the body follows in pieces', () => {
    const recorder = new Recorder();
    const parser = new ScgiParser(recorder);
    parser.push(request(['CONTENT_LENGTH\0', '10\0', 'REQUEST_METHOD\0', 'POST\0']));
    expect(recorder.events).toEqual([headers(['CONTENT_LENGTH', '10', 'REQUEST_METHOD', 'POST'], 10)]);
    parser.push(bytes('01234'));
    parser.push(bytes('56789', 'tail'));
    parser.push(bytes('more'));
    parser.end();
    expect(recorder.bodyChunks.map((c) => c.toString())).toEqual(['01234', '56789']);
    expect(recorder.events.slice(1)).toEqual([body('0123456789'), bodyEnd, excess(8)]);
    expect(recorder.violations).toEqual([]);
  });

  test('body chunks are views into the pushed chunks, not copies', () => {
    const input = request(['CONTENT_LENGTH\0', '4\0'], 'abcd');
    const r = run([input]);
    expect(r.recorder.bodyChunks).toHaveLength(1);
    expect(r.recorder.bodyChunks[0].buffer).toBe(input.buffer);
    expect(r.recorder.bodyChunks[0].byteOffset).toBe(input.byteOffset + input.length - 4);
  });

  test('header strings are copies: overwriting the input afterwards changes nothing', () => {
    const input = request(['CONTENT_LENGTH\0', '0\0', 'HTTP_HOST\0', 'example.org\0']);
    const r = run([input]);
    input.fill(0x5a);
    expect(r.events[0]).toEqual(headers(['CONTENT_LENGTH', '0', 'HTTP_HOST', 'example.org'], 0));
  });

  test('latin1 values give back the exact bytes', () => {
    const raw = Buffer.from([0x01, 0x7f, 0x80, 0xc3, 0xa9, 0xff]); // any byte but NUL
    const block = Buffer.concat([bytes(...CL0, 'HTTP_X\0'), raw, bytes('\0')]);
    const input = Buffer.concat([bytes(`${block.length}:`), block, bytes(',')]);
    const r = run([input]);
    const event = r.events[0];
    expect(event.type).toBe('headers');
    if (event.type === 'headers') expect(Buffer.from(event.pairs[3], 'latin1')).toEqual(raw);
  });

  test('input after an error, after end() and a second end() are ignored', () => {
    const recorder = new Recorder();
    const parser = new ScgiParser(recorder);
    parser.push(bytes('x'));
    parser.push(request(CL0));
    parser.end();
    parser.end();
    expect(recorder.events).toEqual([error('ERR_SCGI_BAD_LENGTH', 400)]);

    const r = run([request(CL0)]);
    r.parser.push(bytes('late'));
    r.parser.end();
    expect(r.events).toEqual([headers(['CONTENT_LENGTH', '0'], 0), bodyEnd]);
    expect(r.violations).toEqual([]);
  });

  test('EOF with nothing received is a truncation with bytesReceived 0', () => {
    const r = run([]);
    expect(r.events).toEqual([error('ERR_SCGI_TRUNCATED', undefined)]);
    expect(r.parser.bytesReceived).toBe(0);
  });

  test('a sink may push and end from inside its callbacks', () => {
    const events: string[] = [];
    const input = request(['CONTENT_LENGTH\0', '6\0'], 'abc');
    const parser: ScgiParser = new ScgiParser({
      headers: () => {
        events.push('headers');
        parser.push(bytes('def'));
      },
      body: (chunk) => events.push(`body ${chunk.toString()}`),
      bodyEnd: () => {
        events.push('bodyEnd');
        parser.end();
      },
      excess: (n) => events.push(`excess ${n}`),
      error: (err) => events.push(err.code),
    });
    parser.push(input);
    expect(events).toEqual(['headers', 'body abc', 'body def', 'bodyEnd']);
  });

  test('errors are ScgiProtocolErrors in the sluice tree with a stable name', () => {
    let caught: unknown;
    const parser = new ScgiParser({
      headers: () => undefined,
      body: () => undefined,
      bodyEnd: () => undefined,
      excess: () => undefined,
      error: (err) => (caught = err),
    });
    parser.push(bytes('0:,'));
    expect(caught).toBeInstanceOf(ScgiProtocolError);
    expect(caught).toBeInstanceOf(ProtocolError);
    expect(caught).toBeInstanceOf(SluiceError);
    expect(caught).toMatchObject({
      name: 'ScgiProtocolError',
      code: 'ERR_SCGI_CONTENT_LENGTH_MISSING',
      status: 400,
    });
  });

  test('the header limit must be a number >= 0', () => {
    const sink = new Recorder();
    expect(() => new ScgiParser(sink, { maxHeaderBytes: -1 })).toThrow(RangeError);
    expect(() => new ScgiParser(sink, { maxHeaderBytes: NaN })).toThrow(RangeError);
  });
});
