// validateHead, serializeHead, bodyAllowed and plainResponse: what may reach a front end, and how.
import { GatewayError } from '../../src/errors';
import { plainResponse } from '../../src/gateway/plain-response';
import { bodyAllowed, serializeHead, validateHead, withContentLength } from '../../src/gateway/response-head';
import { LEVEL, recordingLogger, run } from '../helpers/gateway';

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return (error as GatewayError).code;
  }
  return undefined;
}

describe('validateHead: status lines', () => {
  const valid: Array<[string, number]> = [
    ['200 OK', 200],
    ['404 Not Found', 404],
    ['204 No Content', 204],
    ['599 Custom', 599],
    ['200 ', 200],
    ["418 I'm a teapot", 418],
    ['200 Tab\there', 200],
    ['200 caf\u00e9 (latin1)', 200],
  ];

  test.each(valid)('%j is code %i', (status, code) => {
    expect(validateHead(status, [])).toEqual({ status, code, headers: [] });
  });

  const invalid: Array<[string, unknown]> = [
    ['no reason phrase', '200'],
    ['no code', 'OK'],
    ['code above 599, as node:http allows', '999 Unknown'],
    ['code below 100', '099 x'],
    ['code 0', '000 x'],
    ['code 600', '600 x'],
    ['two-digit code', '20 OK'],
    ['four-digit code', '2000 OK'],
    ['no space', '200OK'],
    ['leading space', ' 200 OK'],
    ['CRLF injection', '200 OK\r\nX-Injected: 1'],
    ['trailing LF', '200 OK\n'],
    ['trailing CR', '200 OK\r'],
    ['NUL', '200 O\0K'],
    ['character above latin1', '200 \u20ac'],
    ['empty', ''],
    ['number', 200],
    ['undefined', undefined],
    ['null', null],
  ];

  test.each(invalid)('%s: ERR_GATEWAY_BAD_STATUS', (_name, status) => {
    expect(codeOf(() => validateHead(status, []))).toBe('ERR_GATEWAY_BAD_STATUS');
  });

  // FastCGI and SCGI carry one final response: nginx and Apache pass a 1xx on as if it were final
  // and the client waits for the real response; lighttpd follows it with a 500.
  const informational = [
    '101 Switching Protocols',
    '100 Continue',
    '102 Processing',
    '103 Early Hints',
    '104 Upload Resumption Supported',
    '199 x',
  ];

  test.each(informational)('%j: ERR_GATEWAY_SWITCHING_PROTOCOLS', (status) => {
    expect(codeOf(() => validateHead(status, []))).toBe('ERR_GATEWAY_SWITCHING_PROTOCOLS');
  });

  test('the status is checked before the headers', () => {
    expect(codeOf(() => validateHead('101 Switching Protocols', [['Bad Name', 'v']]))).toBe(
      'ERR_GATEWAY_SWITCHING_PROTOCOLS',
    );
    expect(codeOf(() => validateHead('600 x', 'not headers'))).toBe('ERR_GATEWAY_BAD_STATUS');
  });
});

describe('what the client gets for a status no front end can carry', () => {
  test.each([
    ['101 Switching Protocols', 'ERR_GATEWAY_SWITCHING_PROTOCOLS'],
    ['103 Early Hints', 'ERR_GATEWAY_SWITCHING_PROTOCOLS'],
    ['600 Unknown', 'ERR_GATEWAY_BAD_STATUS'],
  ])('a gateway app answering %j gets the plain 500, and the log says %s', async (status, code) => {
    const { log, lines } = recordingLogger();
    const transport = await run(
      (_environ, startResponse) => {
        startResponse(status, []);
        return ['never sent'];
      },
      { log },
    );
    expect(transport.calls.map((call) => (call.type === 'head' ? call.status : call.type))).toEqual([
      '500 Internal Server Error',
      'end',
    ]);
    expect(lines).toEqual([expect.objectContaining({ level: LEVEL.error, code })]);
  });

  // The sentence itself is what the issue asks for, so here the message is checked, not only the code.
  test('the log line says why: FastCGI and SCGI cannot switch protocols', async () => {
    const { log, lines } = recordingLogger();
    await run(
      (_environ, startResponse) => {
        startResponse('101 Switching Protocols', [['Upgrade', 'websocket']]);
        return [];
      },
      { log },
    );
    expect(lines[0].err).toEqual(
      expect.objectContaining({
        message: expect.stringContaining('FastCGI and SCGI cannot switch protocols'),
      }),
    );
  });
});

describe('validateHead: headers', () => {
  const valid: Array<[string, Array<[string, string]>]> = [
    ['none', []],
    ['ordinary', [['Content-Type', 'text/plain; charset=utf-8']]],
    [
      'repeated name (Set-Cookie)',
      [
        ['Set-Cookie', 'a=1'],
        ['Set-Cookie', 'b=2'],
      ],
    ],
    ['empty value', [['X-Empty', '']]],
    ['tab and spaces in value', [['X-Spaced', ' a\tb ']]],
    ['obs-text in value', [['X-Latin1', 'caf\u00e9']]],
    ['every token character in the name', [["!#$%&'*+-.^_`|~09AZaz", 'v']]],
    ['a name merely containing "status"', [['X-Status', 'ok']]],
    ['Statuses', [['Statuses', 'x']]],
  ];

  test.each(valid)('%s accepted and kept as given', (_name, headers) => {
    expect(validateHead('200 OK', headers).headers).toEqual(headers);
  });

  const invalid: Array<[string, unknown]> = [
    ['not an array', { 'Content-Type': 'text/plain' }],
    ['a string', 'Content-Type: text/plain'],
    ['pair not an array', ['Content-Type']],
    ['pair of one', [['Content-Type']]],
    ['pair of three', [['Content-Type', 'text/plain', 'x']]],
    ['empty name', [['', 'v']]],
    ['name with CR', [['X\r', 'v']]],
    ['name with LF', [['X\nY', 'v']]],
    ['name with NUL', [['X\0', 'v']]],
    ['name with space', [['X Y', 'v']]],
    ['name with colon', [['X:', 'v']]],
    ['name with non-ASCII', [['X-\u00e9', 'v']]],
    ['name not a string', [[5, 'v']]],
    ['value with CRLF', [['X', 'a\r\nInjected: 1']]],
    ['value with LF', [['X', 'a\nb']]],
    ['value with CR', [['X', 'a\rb']]],
    ['value with NUL', [['X', 'a\0b']]],
    ['value with DEL-adjacent control', [['X', 'a\x01b']]],
    ['value above latin1', [['X', '\u20ac']]],
    ['value a number', [['Content-Length', 5]]],
    ['value undefined', [['X', undefined]]],
    ['value null', [['X', null]]],
    ['Status header', [['Status', '404 Not Found']]],
    ['status header, lower case', [['status', '200 OK']]],
    ['STATUS header, upper case', [['STATUS', '200 OK']]],
    [
      'bad header after good ones',
      [
        ['Content-Type', 'text/plain'],
        ['X', 'a\nb'],
      ],
    ],
  ];

  test.each(invalid)('%s: ERR_GATEWAY_BAD_HEADER', (_name, headers) => {
    expect(codeOf(() => validateHead('200 OK', headers))).toBe('ERR_GATEWAY_BAD_HEADER');
  });
});

describe('serializeHead', () => {
  const cases: Array<{ name: string; status: string; headers: Array<[string, string]>; text: string }> = [
    { name: 'no headers', status: '204 No Content', headers: [], text: 'Status: 204 No Content\r\n\r\n' },
    {
      name: 'headers in order, repeats kept',
      status: '200 OK',
      headers: [
        ['Content-Type', 'text/plain'],
        ['Set-Cookie', 'a=1'],
        ['Set-Cookie', 'b=2'],
      ],
      text: 'Status: 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n',
    },
    {
      name: 'redirect keeps its explicit Status (Apache would answer 200 to a bare Location)',
      status: '302 Found',
      headers: [['Location', '/next']],
      text: 'Status: 302 Found\r\nLocation: /next\r\n\r\n',
    },
    {
      name: 'empty value',
      status: '200 OK',
      headers: [['X-Empty', '']],
      text: 'Status: 200 OK\r\nX-Empty: \r\n\r\n',
    },
  ];

  test.each(cases)('$name', ({ status, headers, text }) => {
    expect(serializeHead(validateHead(status, headers)).toString('latin1')).toBe(text);
  });

  test('obs-text goes out as one latin1 byte per character', () => {
    const bytes = serializeHead(validateHead('200 caf\u00e9', [['X', '\u00ff']]));
    expect([...bytes]).toEqual([...Buffer.from('Status: 200 caf\xe9\r\nX: \xff\r\n\r\n', 'latin1')]);
    expect(bytes).toContain(0xe9);
    expect(bytes).not.toContain(0xc3);
  });

  test('the first body chunk, when given, follows the blank line in the same buffer, byte for byte', () => {
    const first = Buffer.from([0x68, 0x69, 0xff, 0x00]);
    const bytes = serializeHead(validateHead('200 OK', [['X', '\u00e9']]), first);
    expect(bytes).toEqual(Buffer.concat([Buffer.from('Status: 200 OK\r\nX: \xe9\r\n\r\n', 'latin1'), first]));
  });
});

/** RFC 9110 §6.4.1 and §9.3.2. */
describe('bodyAllowed', () => {
  const cases: Array<[string, number, boolean]> = [
    ['GET', 200, true],
    ['POST', 201, true],
    ['GET', 205, true],
    ['GET', 404, true],
    ['GET', 500, true],
    ['HEAD', 200, false],
    ['HEAD', 404, false],
    ['HEAD', 500, false],
    ['GET', 204, false],
    ['GET', 304, false],
    ['GET', 100, false],
    ['GET', 103, false],
    ['OPTIONS', 200, true],
  ];

  test.each(cases)('%s %i: %s', (method, code, expected) => {
    expect(bodyAllowed(method, code)).toBe(expected);
  });
});

describe('plainResponse', () => {
  const cases: Array<[number, string]> = [
    [400, 'Bad Request'],
    [411, 'Length Required'],
    [413, 'Payload Too Large'],
    [500, 'Internal Server Error'],
    [503, 'Service Unavailable'],
    [599, 'Error'],
  ];

  test.each(cases)('%i: reason %j as status and body', (code, reason) => {
    const { head, body } = plainResponse(code);
    expect(head).toEqual({
      status: `${code} ${reason}`,
      code,
      headers: [
        ['Content-Type', 'text/plain; charset=utf-8'],
        ['Content-Length', String(body.length)],
      ],
    });
    expect(body.toString()).toBe(reason + '\n');
  });

  test('built once per code', () => {
    expect(plainResponse(502)).toBe(plainResponse(502));
  });
});

describe('withContentLength', () => {
  const text = (status: string, headers: Array<[string, string]>, length: number | undefined): string =>
    serializeHead(withContentLength(validateHead(status, headers), length)).toString('latin1');

  test("adds the length of a body known in full, after the app's headers", () => {
    expect(text('200 OK', [['Content-Type', 'text/plain']], 14)).toBe(
      'Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\n',
    );
    expect(text('404 Not Found', [], 0)).toBe('Status: 404 Not Found\r\nContent-Length: 0\r\n\r\n');
  });

  test.each(['content-length', 'Content-Length', 'CONTENT-LENGTH'])("keeps the app's own %s", (name) => {
    expect(text('200 OK', [[name, '3']], 14)).toBe(`Status: 200 OK\r\n${name}: 3\r\n\r\n`);
  });

  test.each(['204 No Content', '304 Not Modified'])('adds none to a %s, which has no body', (status) => {
    expect(text(status, [], 0)).toBe(`Status: ${status}\r\n\r\n`);
  });

  test('adds none when the length is unknown (a streamed body), and returns the head unchanged', () => {
    const head = validateHead('200 OK', []);
    expect(withContentLength(head, undefined)).toBe(head);
  });
});
