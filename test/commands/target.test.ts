// The pieces of `sluice request` and `sluice ping` that are pure: server, protocol, -H, --env, -i output.
import { ClientError } from '../../src/client/errors';
import { formatHead, parseHeaderLine } from '../../src/commands/request';
import { CLIENT_EXIT, clientFailure, parseAssignment, resolveTarget } from '../../src/commands/target';

describe('resolveTarget', () => {
  test('flags first, then SLUICE_CONNECT / SLUICE_PROTOCOL, FastCGI by default', () => {
    expect(resolveTarget({ connect: '/run/a.sock' }, {})).toEqual({
      address: '/run/a.sock',
      protocol: 'fastcgi',
      label: 'fastcgi unix:/run/a.sock',
    });
    expect(resolveTarget({}, { SLUICE_CONNECT: ':4000', SLUICE_PROTOCOL: 'scgi' }).label).toBe(
      'scgi 127.0.0.1:4000',
    );
    expect(
      resolveTarget({ protocol: 'fastcgi' }, { SLUICE_CONNECT: ':1', SLUICE_PROTOCOL: 'scgi' }).protocol,
    ).toBe('fastcgi');
  });

  test.each([
    ['no server', {}, {}, 'ERR_USAGE_ADDRESS'],
    ['a bad address', { connect: 'nowhere' }, {}, 'ERR_USAGE_ADDRESS'],
    ['a bad protocol', { connect: ':1' }, { SLUICE_PROTOCOL: 'http' }, 'ERR_USAGE_PROTOCOL'],
  ])('%s is a usage error', (_name, flags, env, code) => {
    expect(() => resolveTarget(flags, env)).toThrow(expect.objectContaining({ code }));
  });
});

test.each([
  ['X-A: 1', ['X-A', '1']],
  ['X-A:1', ['X-A', '1']],
  ['X-Url: http://a:b/', ['X-Url', 'http://a:b/']],
  ['X-Empty:', ['X-Empty', '']],
])('header %j', (line, expected) => {
  expect(parseHeaderLine(line)).toEqual(expected);
});

test.each(['nocolon', ': value'])('header %j is a usage error', (line) => {
  expect(() => parseHeaderLine(line)).toThrow(expect.objectContaining({ code: 'ERR_USAGE_HEADER' }));
});

test.each([
  ['SCRIPT_FILENAME=/srv/a.php', ['SCRIPT_FILENAME', '/srv/a.php']],
  ['EMPTY=', ['EMPTY', '']],
  ['A=b=c', ['A', 'b=c']],
])('--env %j', (text, expected) => {
  expect(parseAssignment(text)).toEqual(expected);
});

test.each(['NOVALUE', '=x', '1A=x', 'A B=x'])('--env %j is a usage error', (text) => {
  expect(() => parseAssignment(text)).toThrow(expect.objectContaining({ code: 'ERR_USAGE_ENV' }));
});

test('-i prints the head as CGI: Status line, headers, blank line', () => {
  expect(
    formatHead(201, 'Created', [
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
    ]),
  ).toBe('Status: 201 Created\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n');
  expect(formatHead(204, '', [])).toBe('Status: 204\r\n\r\n');
});

describe('clientFailure', () => {
  const target = resolveTarget({ connect: ':1' }, {});
  const sink = (): NodeJS.WritableStream & { text: string } => {
    const out = { text: '', write: (s: string) => ((out.text += s), true) };
    return out as unknown as NodeJS.WritableStream & { text: string };
  };

  test.each([
    ['ERR_CLIENT_CONNECT', CLIENT_EXIT.CONNECT],
    ['ERR_CLIENT_TIMEOUT', CLIENT_EXIT.CONNECT],
    ['ERR_CLIENT_BAD_REPLY', CLIENT_EXIT.PROTOCOL],
    ['ERR_CLIENT_CLOSED', CLIENT_EXIT.PROTOCOL],
    ['ERR_CLIENT_BODY', 1],
  ] as const)('%s exits %d with one line naming the server and the code', (code, exit) => {
    const stderr = sink();
    expect(clientFailure(new ClientError(code, 'what happened'), target, stderr)).toBe(exit);
    expect(stderr.text).toBe(`sluice: fastcgi 127.0.0.1:1: what happened (${code})\n`);
  });

  test('anything but a ClientError is not its business', () => {
    expect(() => clientFailure(new Error('bug'), target, sink())).toThrow('bug');
  });
});
