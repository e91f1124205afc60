// HttpResponseParser: heads, the three framings, interim responses, fed whole and split at every offset.
import { HttpResponseParser } from '../../src/adapters/http-response-parser';
import { forEachSplit } from '../helpers/split';

interface Parsed {
  head?: { code: number; reason: string; headers: Array<[string, string]> };
  body: string;
  ended: boolean;
}

function parse(parts: Buffer[], method = 'GET', close = false): Parsed {
  const out: Parsed = { body: '', ended: false };
  const parser = new HttpResponseParser(
    {
      head: (code, reason, headers) => (out.head = { code, reason, headers }),
      body: (chunk) => (out.body += chunk.toString('latin1')),
      end: () => (out.ended = true),
    },
    method,
  );
  for (const part of parts) parser.push(part);
  if (close) parser.end();
  return out;
}

const CASES: Array<[string, string, Partial<Parsed> & { method?: string; close?: boolean }]> = [
  [
    'Content-Length body',
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello',
    { body: 'hello', ended: true },
  ],
  [
    'chunked body with a trailer',
    'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\na;x=y\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n',
    { body: 'abc0123456789', ended: true },
  ],
  [
    'body until the close',
    'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabcdef',
    { body: 'abcdef', ended: true, close: true },
  ],
  [
    'HEAD: no body whatever the length',
    'HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n',
    { body: '', ended: true, method: 'HEAD' },
  ],
  ['304 has no body', 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n', { body: '', ended: true }],
  [
    '100 Continue, 102 Processing and 103 Early Hints are skipped',
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    { body: 'ok', ended: true },
  ],
];

describe.each(CASES)('%s', (_name, wire, expected) => {
  const bytes = Buffer.from(wire, 'latin1');
  test('whole, split at every offset, and byte by byte', () => {
    forEachSplit(bytes, (parts, how) => {
      const parsed = parse(parts, expected.method, expected.close);
      expect({ how, body: parsed.body, ended: parsed.ended }).toEqual({
        how,
        body: expected.body,
        ended: expected.ended,
      });
    });
  });
});

test('the head keeps names as written and repeated headers apart', () => {
  const parsed = parse([
    Buffer.from('HTTP/1.1 404 Not Found\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n'),
  ]);
  expect(parsed.head).toEqual({
    code: 404,
    reason: 'Not Found',
    headers: [
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
      ['Content-Length', '0'],
    ],
  });
  expect(parsed.ended).toBe(true);
});

test('an unfinished body at the end of the stream is an error with a code', () => {
  expect(() => parse([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab')], 'GET', true)).toThrow(
    expect.objectContaining({ code: 'ERR_ADAPTER_BAD_RESPONSE' }),
  );
});

test('a status line that is not HTTP/1.x is an error with a code', () => {
  expect(() => parse([Buffer.from('HTTP/2 200\r\n\r\n')])).toThrow(
    expect.objectContaining({ code: 'ERR_ADAPTER_BAD_RESPONSE' }),
  );
});

// writeHead(101) is the response's own head, not an interim one: the gateway must see it to refuse it.
test.each([
  ['HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n', 101],
  ['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n', 101],
  ['HTTP/1.1 199 Unknown\r\n\r\n', 199],
  ['HTTP/1.1 600 Unknown\r\nContent-Length: 0\r\n\r\n', 600],
  ['HTTP/1.1 999 Unknown\r\nContent-Length: 0\r\n\r\n', 999],
])('%j reaches the sink as the head, with nothing after it', (wire, code) => {
  forEachSplit(Buffer.from(wire, 'latin1'), (parts, how) => {
    const parsed = parse(parts);
    expect({ how, code: parsed.head?.code, body: parsed.body, ended: parsed.ended }).toEqual({
      how,
      code,
      body: '',
      ended: true,
    });
  });
});

test.each(['HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n'])(
  'a response that ends after an interim head alone (%j) is an error with a code',
  (wire) => {
    expect(() => parse([Buffer.from(wire, 'latin1')], 'GET', true)).toThrow(
      expect.objectContaining({ code: 'ERR_ADAPTER_BAD_RESPONSE' }),
    );
  },
);
