// The CGI response head parser: status rules of RFC 3875 §6, every split of the input, typed errors.
import { CgiHeadParser, parseCgiHead, type HeadResult } from '../../src/client/cgi-head';
import { ClientError } from '../../src/client/errors';
import { forEachSplit } from '../helpers/split';

/** Feeds chunks until the head completes; the body is what followed it plus every later chunk. */
function feed(chunks: Buffer[], max?: number): { result: HeadResult; body: Buffer } | undefined {
  const parser = new CgiHeadParser(max);
  for (let i = 0; i < chunks.length; i++) {
    const result = parser.push(chunks[i]);
    if (result !== undefined) return { result, body: Buffer.concat([result.rest, ...chunks.slice(i + 1)]) };
  }
  return undefined;
}

const VECTORS: Array<[string, string, number, string, Array<[string, string]>, string]> = [
  // name, raw, status, reason, headers, body
  [
    'Status line and CRLF',
    'Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope',
    404,
    'Not Found',
    [['Content-Type', 'text/plain']],
    'nope',
  ],
  ['bare LF line ends', 'Content-Type: text/html\n\n<p>', 200, 'OK', [['Content-Type', 'text/html']], '<p>'],
  [
    'mixed line ends',
    'Status: 201 Created\nX-A: 1\r\n\nbody\r\n\r\nmore',
    201,
    'Created',
    [['X-A', '1']],
    'body\r\n\r\nmore',
  ],
  [
    'no Status, absolute Location: 302',
    'Location: https://example.com/x\r\n\r\n',
    302,
    'Found',
    [['Location', 'https://example.com/x']],
    '',
  ],
  [
    'no Status, local Location stays 200',
    'Location: /elsewhere\r\n\r\n',
    200,
    'OK',
    [['Location', '/elsewhere']],
    '',
  ],
  ['Status without reason', 'Status: 204\r\nX: y\r\n\r\n', 204, '', [['X', 'y']], ''],
  [
    'lower-case status, repeats kept, value trimmed',
    'status: 500 Oops\r\nSet-Cookie: a=1\r\nSet-Cookie:  b=2 \r\n\r\n',
    500,
    'Oops',
    [
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
    ],
    '',
  ],
  ['empty value', 'X-Empty:\r\n\r\n', 200, 'OK', [['X-Empty', '']], ''],
];

describe('CgiHeadParser', () => {
  test.each(VECTORS)('%s, at every split', (_name, raw, status, reason, headers, body) => {
    forEachSplit(Buffer.from(raw, 'latin1'), (chunks, how) => {
      const fed = feed(chunks);
      expect({ how, head: fed?.result.head, body: fed?.body.toString('latin1') }).toEqual({
        how,
        head: { status, reason, headers },
        body,
      });
    });
  });

  test('the body after the head is a view of the chunk, not a copy', () => {
    const chunk = Buffer.from('X: 1\r\n\r\nbody');
    const result = new CgiHeadParser().push(chunk)!;
    expect(result.rest.buffer).toBe(chunk.buffer);
  });

  test('an incomplete head waits for more', () => {
    expect(new CgiHeadParser().push(Buffer.from('Status: 200 OK\r\nX: 1\r\n'))).toBeUndefined();
  });

  test.each([
    ['a line without a colon', 'Status: 200 OK\r\nnonsense\r\n\r\n'],
    ['a continuation line', 'X-A: 1\r\n  folded\r\n\r\n'],
    ['a bad Status', 'Status: OK\r\n\r\n'],
    ['a Status out of range', 'Status: 600 Nope\r\n\r\n'],
    ['no header at all', '\r\nbody'],
    ['no header at all, LF', '\nbody'],
    ['an empty name', ': x\r\n\r\n'],
  ])('%s is ERR_CLIENT_BAD_HEAD', (_name, raw) => {
    forEachSplit(Buffer.from(raw, 'latin1'), (chunks) => {
      let error: unknown;
      try {
        feed(chunks);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ClientError);
      expect((error as ClientError).code).toBe('ERR_CLIENT_BAD_HEAD');
      expect((error as ClientError).kind).toBe('protocol');
    });
  });

  test('a head over maxHeadBytes fails as soon as it is known, before more is buffered', () => {
    const parser = new CgiHeadParser(64);
    expect(parser.push(Buffer.from('X-Long: ' + 'a'.repeat(40)))).toBeUndefined();
    expect(() => parser.push(Buffer.from('a'.repeat(40)))).toThrow(
      expect.objectContaining({ code: 'ERR_CLIENT_HEAD_TOO_LARGE' }),
    );
  });

  test('a complete head one byte over the limit fails; at the limit it passes', () => {
    const head = 'X: ' + 'a'.repeat(10) + '\r\n\r\n'; // 17 bytes, the blank line included
    expect(feed([Buffer.from(head)], 17)?.result.head.headers).toEqual([['X', 'a'.repeat(10)]]);
    expect(() => feed([Buffer.from('a' + head)], 17)).toThrow(
      expect.objectContaining({ code: 'ERR_CLIENT_HEAD_TOO_LARGE' }),
    );
  });
});

describe('parseCgiHead', () => {
  test('a scheme-less Location with a colon later is still local', () => {
    expect(parseCgiHead('Location: /a:b').status).toBe(200);
  });
});
