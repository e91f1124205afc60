// Record layout and writer: header and body vectors, splitting at 65535, padding to 8, views not copies.

import {
  FCGI_ABORT_REQUEST,
  FCGI_AUTHORIZER,
  FCGI_BEGIN_REQUEST,
  FCGI_DATA,
  FCGI_END_REQUEST,
  FCGI_GET_VALUES,
  FCGI_GET_VALUES_RESULT,
  FCGI_KEEP_CONN,
  FCGI_MAX_CONNS,
  FCGI_MAX_CONTENT,
  FCGI_MAX_REQS,
  FCGI_MPXS_CONNS,
  FCGI_OVERLOADED,
  FCGI_PARAMS,
  FCGI_REQUEST_COMPLETE,
  FCGI_RESPONDER,
  FCGI_STDERR,
  FCGI_STDIN,
  FCGI_STDOUT,
  FCGI_UNKNOWN_TYPE,
  recordTypeName,
} from '../../src/fastcgi/constants';
import { decodePairList, encodePairs } from '../../src/fastcgi/pairs';
import {
  decodeBeginRequestBody,
  decodeEndRequestBody,
  decodeHeader,
  decodeUnknownTypeBody,
  encodeHeader,
  paddingFor,
  writeBeginRequestBody,
  writeEndRequestBody,
} from '../../src/fastcgi/record';
import {
  abortRequestRecord,
  beginRequestRecord,
  dataRecords,
  endRequestRecord,
  getValuesRecord,
  getValuesResultRecord,
  paramsRecords,
  stderrRecords,
  stdinRecords,
  stdoutRecords,
  stdoutTextRecords,
  streamEndRecord,
  streamRecords,
  unknownTypeRecord,
} from '../../src/fastcgi/writer';
import { hex, readRecords } from './vectors';

/** Every buffer a writer returned, as one stream, checked to be whole records padded to 8. */
function joined(buffers: Buffer[]): Buffer {
  const stream = Buffer.concat(buffers);
  for (const record of readRecords(stream)) {
    expect((record.content.length + record.paddingLength) % 8).toBe(0);
    expect(record.version).toBe(1);
  }
  return stream;
}

describe('record header (spec §3.3)', () => {
  const headers: Array<[what: string, fields: [number, number, number, number], wire: string]> = [
    // version 1 | type | requestId BE16 | contentLength BE16 | paddingLength | reserved
    ['empty STDOUT on id 1', [FCGI_STDOUT, 1, 0, 0], '01 06 0001 0000 00 00'],
    ['largest id, content and padding', [FCGI_STDIN, 65535, 65535, 255], '01 05 ffff ffff ff 00'],
    ['management record', [FCGI_GET_VALUES, 0, 24, 0], '01 09 0000 0018 00 00'],
    ['unknown type number', [200, 258, 1, 7], '01 c8 0102 0001 07 00'],
  ];

  test.each(headers)('%s', (_what, [type, id, length, padding], wire) => {
    const header = encodeHeader(type, id, length, padding);
    expect(header).toEqual(hex(wire));
    expect(decodeHeader(header)).toEqual({
      version: 1,
      type,
      requestId: id,
      contentLength: length,
      paddingLength: padding,
    });
  });

  test('decodeHeader reads at an offset and ignores the reserved byte', () => {
    expect(decodeHeader(hex('ffff 02 03 0004 0005 06 ff'), 2)).toEqual({
      version: 2,
      type: 3,
      requestId: 4,
      contentLength: 5,
      paddingLength: 6,
    });
    expect(() => decodeHeader(hex('01 06 0001 0000 00'))).toThrow(RangeError);
  });

  test.each([
    ['type', () => encodeHeader(256, 1, 0, 0)],
    ['request id', () => encodeHeader(FCGI_STDOUT, 65536, 0, 0)],
    ['negative request id', () => encodeHeader(FCGI_STDOUT, -1, 0, 0)],
    ['content length', () => encodeHeader(FCGI_STDOUT, 1, 65536, 0)],
    ['padding', () => encodeHeader(FCGI_STDOUT, 1, 0, 256)],
    ['fractional length', () => encodeHeader(FCGI_STDOUT, 1, 1.5, 0)],
  ])('a %s that does not fit its field is a RangeError', (_what, build) => {
    expect(build).toThrow(RangeError);
  });

  test.each([
    [0, 0],
    [1, 7],
    [7, 1],
    [8, 0],
    [9, 7],
    [65535, 1],
  ])('content of %d bytes is padded with %d (to a multiple of 8)', (length, padding) => {
    expect(paddingFor(length)).toBe(padding);
  });

  test('type names for messages', () => {
    expect(recordTypeName(FCGI_BEGIN_REQUEST)).toBe('FCGI_BEGIN_REQUEST');
    expect(recordTypeName(FCGI_UNKNOWN_TYPE)).toBe('FCGI_UNKNOWN_TYPE');
    expect(recordTypeName(42)).toBe('FCGI_TYPE_42');
  });
});

describe('fixed bodies (spec §4.2, §5.1, §5.5)', () => {
  test('BEGIN_REQUEST body', () => {
    const body = Buffer.alloc(8, 0xaa);
    writeBeginRequestBody(body, 0, FCGI_AUTHORIZER, FCGI_KEEP_CONN);
    expect(body).toEqual(hex('0002 01 0000000000')); // role AUTHORIZER, flags KEEP_CONN, reserved
    expect(decodeBeginRequestBody(body)).toEqual({ role: FCGI_AUTHORIZER, flags: 1, keepConn: true });
    expect(decodeBeginRequestBody(hex('ffff fe 0000000000'))).toEqual({
      role: 65535,
      flags: 254,
      keepConn: false,
    });
    expect(() => writeBeginRequestBody(body, 0, 65536, 0)).toThrow(RangeError);
  });

  test('END_REQUEST body', () => {
    const body = Buffer.alloc(8, 0xaa);
    writeEndRequestBody(body, 0, 0xfffffffe, FCGI_OVERLOADED);
    expect(body).toEqual(hex('fffffffe 02 000000')); // appStatus BE32, protocolStatus, reserved
    expect(decodeEndRequestBody(body)).toEqual({ appStatus: 0xfffffffe, protocolStatus: FCGI_OVERLOADED });
    expect(() => writeEndRequestBody(body, 0, -1, 0)).toThrow(RangeError);
    expect(() => writeEndRequestBody(body, 0, 2 ** 32, 0)).toThrow(RangeError);
  });

  test('UNKNOWN_TYPE body', () => {
    expect(decodeUnknownTypeBody(hex('63 00000000000000'))).toBe(99);
  });
});

describe('server-side writers', () => {
  test('STDOUT of 5 bytes: header, the data itself, 3 bytes of padding from a shared zero buffer', () => {
    const data = Buffer.from('hello');
    const parts = stdoutRecords(1, data);
    expect(parts).toHaveLength(3);
    expect(parts[0]).toEqual(hex('01 06 0001 0005 03 00')); // STDOUT, id 1, 5 bytes, padding 3
    expect(parts[1]).toBe(data); // the payload is not copied
    expect(parts[2]).toEqual(hex('000000'));
    expect(stdoutRecords(1, data)[2].buffer).toBe(parts[2].buffer); // padding is shared
  });

  test('a head and a short body in one STDOUT record, one buffer, zero-padded', () => {
    const parts = stdoutTextRecords(1, 'Status: 200 OK\r\n\r\n', Buffer.from('hi\xff', 'latin1'));
    expect(parts).toHaveLength(1);
    // 18 + 3 = 21 bytes of content, 3 of padding
    expect(parts[0]).toEqual(
      Buffer.concat([
        hex('01 06 0001 0015 03 00'),
        Buffer.from('Status: 200 OK\r\n\r\nhi\xff', 'latin1'),
        hex('000000'),
      ]),
    );
    expect(stdoutTextRecords(2, 'é\r\n', null)).toEqual([
      Buffer.concat([hex('01 06 0002 0003 05 00'), hex('e9 0d0a'), hex('0000000000')]),
    ]);
  });

  test('a head and body too long for one record are split as stdoutRecords splits them', () => {
    const text = 'X-Long: ' + 'a'.repeat(70_000) + '\r\n\r\n';
    const body = Buffer.from('tail');
    const expected = Buffer.concat(stdoutRecords(1, Buffer.concat([Buffer.from(text, 'latin1'), body])));
    expect(Buffer.concat(stdoutTextRecords(1, text, body))).toEqual(expected);
    expect(stdoutTextRecords(1, '', null)).toEqual([]);
    expect(() => stdoutTextRecords(0, 'x', null)).toThrow(RangeError);
  });

  test('an 8-byte payload needs no padding entry', () => {
    expect(stdoutRecords(3, Buffer.alloc(8))).toHaveLength(2);
  });

  test('empty data gives no records: an empty STDOUT would end the stream (php-src #72185)', () => {
    expect(stdoutRecords(1, Buffer.alloc(0))).toEqual([]);
    expect(stdinRecords(1, Buffer.alloc(0))).toEqual([]);
  });

  test('STDERR through stdoutRecords and stderrRecords', () => {
    const data = Buffer.from('oops');
    expect(stdoutRecords(2, data, FCGI_STDERR)[0]).toEqual(hex('01 07 0002 0004 04 00'));
    expect(stderrRecords(2, data)[0]).toEqual(hex('01 07 0002 0004 04 00'));
  });

  test.each([
    // length, record content lengths
    [65535, [65535]],
    [65536, [65535, 1]],
    [65535 * 2, [65535, 65535]],
    [200_000, [65535, 65535, 65535, 3395]],
  ])('%d bytes split at 65535 into %j, each padded to 8, payloads views of the data', (length, sizes) => {
    const data = Buffer.alloc(length);
    for (let i = 0; i < length; i++) data[i] = i & 0xff;
    const parts = stdoutRecords(65535, data);
    const records = readRecords(joined(parts));
    expect(records.map((r) => r.content.length)).toEqual(sizes);
    expect(records.every((r) => r.type === FCGI_STDOUT && r.requestId === 65535)).toBe(true);
    expect(Buffer.concat(records.map((r) => r.content)).equals(data)).toBe(true);
    // The payload entries share memory with `data`.
    const payloads = parts.filter((p) => p.buffer === data.buffer);
    expect(payloads.map((p) => p.length)).toEqual(sizes);
  });

  test('streamRecords splits at a smaller maxContent', () => {
    const records = readRecords(joined(streamRecords(FCGI_STDIN, 7, Buffer.alloc(20, 1), 8)));
    expect(records.map((r) => [r.type, r.requestId, r.content.length, r.paddingLength])).toEqual([
      [FCGI_STDIN, 7, 8, 0],
      [FCGI_STDIN, 7, 8, 0],
      [FCGI_STDIN, 7, 4, 4],
    ]);
    expect(() => streamRecords(FCGI_STDIN, 7, Buffer.alloc(1), 0)).toThrow(RangeError);
    expect(() => streamRecords(FCGI_STDIN, 7, Buffer.alloc(1), 65536)).toThrow(RangeError);
  });

  test('stream terminators; the id-1 ones are built once and shared', () => {
    expect(streamEndRecord(FCGI_STDOUT, 1)).toEqual(hex('01 06 0001 0000 00 00'));
    expect(streamEndRecord(FCGI_STDOUT, 1)).toBe(streamEndRecord(FCGI_STDOUT, 1));
    expect(streamEndRecord(FCGI_STDERR, 1)).toEqual(hex('01 07 0001 0000 00 00'));
    expect(streamEndRecord(FCGI_STDOUT, 65535)).toEqual(hex('01 06 ffff 0000 00 00'));
    expect(streamEndRecord(FCGI_STDOUT, 2)).not.toBe(streamEndRecord(FCGI_STDOUT, 2));
  });

  test.each([
    // id, appStatus, protocolStatus, wire
    [1, 0, FCGI_REQUEST_COMPLETE, '01 03 0001 0008 00 00  00000000 00 000000'],
    [7, 0xffffffff, FCGI_OVERLOADED, '01 03 0007 0008 00 00  ffffffff 02 000000'],
    [65535, 1, FCGI_REQUEST_COMPLETE, '01 03 ffff 0008 00 00  00000001 00 000000'],
  ])('END_REQUEST id %d, appStatus %d, protocolStatus %d', (id, appStatus, protocolStatus, wire) => {
    expect(endRequestRecord(id, appStatus, protocolStatus)).toEqual(hex(wire));
  });

  test('END_REQUEST defaults to appStatus 0, REQUEST_COMPLETE; id 1 is shared', () => {
    expect(endRequestRecord(1)).toBe(endRequestRecord(1, 0, FCGI_REQUEST_COMPLETE));
    expect(endRequestRecord(2)).toEqual(hex('01 03 0002 0008 00 00  00000000 00 000000'));
  });

  test('GET_VALUES_RESULT: one record on the null id, padded', () => {
    const record = getValuesResultRecord([
      [FCGI_MAX_CONNS, '10'],
      [FCGI_MPXS_CONNS, '1'],
    ]);
    expect(record).toEqual(
      hex(
        '01 0a 0000 0024 04 00', // GET_VALUES_RESULT, null id, 36 bytes, padding 4
        '0e 02 464347495f4d41585f434f4e4e53 3130', // 14, 2, FCGI_MAX_CONNS, "10"
        '0f 01 464347495f4d5058535f434f4e4e53 31', // 15, 1, FCGI_MPXS_CONNS, "1"
        '00000000', // padding
      ),
    );
    const [only] = readRecords(record);
    expect(only.type).toBe(FCGI_GET_VALUES_RESULT);
    expect(decodePairList(only.content)).toEqual([FCGI_MAX_CONNS, '10', FCGI_MPXS_CONNS, '1']);
    expect(getValuesResultRecord([])).toEqual(hex('01 0a 0000 0000 00 00'));
  });

  test('GET_VALUES_RESULT that does not fit one record is a RangeError (management records are discrete)', () => {
    expect(() => getValuesResultRecord([['X', 'y'.repeat(65535)]])).toThrow(RangeError);
  });

  test('UNKNOWN_TYPE carries the type in its body', () => {
    expect(unknownTypeRecord(12)).toEqual(hex('01 0b 0000 0008 00 00  0c 00000000000000'));
    expect(() => unknownTypeRecord(256)).toThrow(RangeError);
  });
});

describe('client-side writers', () => {
  test('BEGIN_REQUEST as nginx sends it with fastcgi_keep_conn on', () => {
    expect(beginRequestRecord(1, FCGI_RESPONDER, FCGI_KEEP_CONN)).toEqual(
      hex(
        '01 01 0001 0008 00 00', // BEGIN_REQUEST, id 1, 8 bytes, no padding
        '0001 01 0000000000', // role RESPONDER, flags KEEP_CONN, reserved
      ),
    );
    expect(beginRequestRecord(65535)).toEqual(hex('01 01 ffff 0008 00 00  0001 00 0000000000'));
  });

  test('ABORT_REQUEST is an empty record', () => {
    expect(abortRequestRecord(3)).toEqual(hex('01 02 0003 0000 00 00'));
    expect(readRecords(abortRequestRecord(3))[0].type).toBe(FCGI_ABORT_REQUEST);
  });

  test('GET_VALUES asks with empty values on the null id', () => {
    expect(getValuesRecord([FCGI_MAX_REQS])).toEqual(
      hex(
        '01 09 0000 000f 01 00', // GET_VALUES, null id, 15 bytes, padding 1
        '0d 00 464347495f4d41585f52455153', // 13, 0, FCGI_MAX_REQS
        '00', // padding
      ),
    );
  });

  test('PARAMS: the whole stream, terminator included', () => {
    const pairs: Array<[string, string]> = [['SERVER_PORT', '80']];
    const stream = joined(paramsRecords(1, pairs));
    const records = readRecords(stream);
    expect(records.map((r) => [r.type, r.requestId, r.content.length])).toEqual([
      [FCGI_PARAMS, 1, 15],
      [FCGI_PARAMS, 1, 0],
    ]);
    expect(records[0].content).toEqual(encodePairs(pairs));
  });

  test('PARAMS split at a small maxContent: pairs straddle records and concatenate back', () => {
    const pairs: Array<[string, string]> = [
      ['REQUEST_METHOD', 'GET'],
      ['QUERY_STRING', ''],
      ['HTTP_COOKIE', 'c'.repeat(300)],
    ];
    const records = readRecords(joined(paramsRecords(9, pairs, 7)));
    expect(records.length).toBe(Math.ceil(encodePairs(pairs).length / 7) + 1);
    expect(records.slice(0, -1).every((r) => r.content.length <= 7 && r.content.length > 0)).toBe(true);
    expect(decodePairList(Buffer.concat(records.map((r) => r.content)))).toEqual(pairs.flat());
  });

  test('PARAMS with no pairs is only the terminator', () => {
    expect(Buffer.concat(paramsRecords(2, []))).toEqual(hex('01 04 0002 0000 00 00'));
  });

  test('STDIN and DATA records with terminators', () => {
    const stdin = readRecords(
      joined([...stdinRecords(4, Buffer.from('abc')), streamEndRecord(FCGI_STDIN, 4)]),
    );
    expect(stdin.map((r) => [r.type, r.content.toString()])).toEqual([
      [FCGI_STDIN, 'abc'],
      [FCGI_STDIN, ''],
    ]);
    const data = readRecords(joined([...dataRecords(4, Buffer.from('xyz')), streamEndRecord(FCGI_DATA, 4)]));
    expect(data.map((r) => [r.type, r.content.toString()])).toEqual([
      [FCGI_DATA, 'xyz'],
      [FCGI_DATA, ''],
    ]);
  });

  test.each([
    ['beginRequestRecord', () => beginRequestRecord(0)],
    ['abortRequestRecord', () => abortRequestRecord(65536)],
    ['streamEndRecord', () => streamEndRecord(FCGI_STDOUT, 0)],
    ['stdoutRecords', () => stdoutRecords(0, Buffer.alloc(1))],
    ['endRequestRecord', () => endRequestRecord(0)],
    ['paramsRecords', () => paramsRecords(1.5, [])],
  ])('%s refuses an id outside 1–65535 (0 is for management records)', (_name, build) => {
    expect(build).toThrow(RangeError);
  });

  test('record types stay what the spec numbers them', () => {
    expect([FCGI_BEGIN_REQUEST, FCGI_ABORT_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN]).toEqual([
      1, 2, 3, 4, 5,
    ]);
    expect([FCGI_STDOUT, FCGI_STDERR, FCGI_DATA, FCGI_GET_VALUES, FCGI_GET_VALUES_RESULT]).toEqual([
      6, 7, 8, 9, 10,
    ]);
    expect(FCGI_UNKNOWN_TYPE).toBe(11);
    expect(FCGI_MAX_CONTENT).toBe(65535);
  });
});
