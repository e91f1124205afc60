// `sluice bridge` arguments: flags, environment fallbacks, and what a client must not control.
import { parseBridgeArgs } from '../../src/bridge/args';
import { errorResponse, failureResponse, hasBody } from '../../src/bridge/main';
import { ClientError } from '../../src/client/errors';
import { UsageError } from '../../src/errors';

describe('parseBridgeArgs', () => {
  test('flags, in both spellings', () => {
    expect(
      parseBridgeArgs(
        [
          '--connect',
          'unix:/run/x.sock',
          '--protocol=scgi',
          '--timeout',
          '5',
          '--pass',
          'LANG',
          '--pass=APP_*',
          '--max-spool-bytes',
          '1024',
        ],
        {},
      ),
    ).toEqual({
      help: false,
      connect: 'unix:/run/x.sock',
      protocol: 'scgi',
      timeoutMs: 5000,
      pass: ['LANG', 'APP_*'],
      maxSpoolBytes: 1024,
    });
  });

  test('defaults, with the server from SLUICE_CONNECT and SLUICE_PROTOCOL', () => {
    expect(parseBridgeArgs([], { SLUICE_CONNECT: '127.0.0.1:9000' })).toMatchObject({
      connect: '127.0.0.1:9000',
      protocol: 'fastcgi',
      timeoutMs: 60_000,
      pass: [],
      maxSpoolBytes: 16 * 1024 * 1024,
    });
    expect(parseBridgeArgs([], { SLUICE_CONNECT: ':9000', SLUICE_PROTOCOL: 'scgi' }).protocol).toBe('scgi');
  });

  test('flags win over the environment', () => {
    const args = parseBridgeArgs(['--connect', ':1', '--protocol', 'fastcgi'], {
      SLUICE_CONNECT: ':2',
      SLUICE_PROTOCOL: 'scgi',
    });
    expect(args).toMatchObject({ connect: ':1', protocol: 'fastcgi' });
  });

  test('--help needs no server', () => {
    expect(parseBridgeArgs(['--help'], {}).help).toBe(true);
    expect(parseBridgeArgs(['-h'], {}).help).toBe(true);
  });

  test('options end at the first other argument (a script path from a #! line)', () => {
    const args = parseBridgeArgs(['--connect', ':1', '/usr/lib/cgi-bin/app', '--connect', ':666'], {});
    expect(args.connect).toBe(':1');
  });

  test('the words of an indexed query are dropped, even when they look like options', () => {
    const env = { GATEWAY_INTERFACE: 'CGI/1.1', QUERY_STRING: '--connect+evil.test%3A80' };
    expect(parseBridgeArgs(['--connect', ':1', '--connect', 'evil.test:80'], env).connect).toBe(':1');
    // Apache escapes shell characters with backslashes before exec.
    const escaped = { GATEWAY_INTERFACE: 'CGI/1.1', QUERY_STRING: '--pass+a%26b' };
    expect(parseBridgeArgs(['--connect', ':1', '--pass', 'a\\&b'], escaped).pass).toEqual([]);
  });

  test("the bridge's own options survive a query whose words differ", () => {
    const env = { GATEWAY_INTERFACE: 'CGI/1.1', QUERY_STRING: 'hello' };
    expect(parseBridgeArgs(['--connect', ':1'], env).connect).toBe(':1');
  });

  test.each([
    ['no server', []],
    ['an unknown option', ['--connect', ':1', '--frobnicate']],
    ['a bad protocol', ['--connect', ':1', '--protocol', 'http']],
    ['a missing value', ['--connect']],
    ['a zero timeout', ['--connect', ':1', '--timeout', '0']],
    ['a bad --pass', ['--connect', ':1', '--pass', 'A-B']],
  ])('%s is ERR_USAGE_BRIDGE', (_name, argv) => {
    expect(() => parseBridgeArgs(argv, {})).toThrow(UsageError);
    expect(() => parseBridgeArgs(argv, {})).toThrow(expect.objectContaining({ code: 'ERR_USAGE_BRIDGE' }));
  });
});

describe('hasBody (RFC 3875 §4.1.2)', () => {
  test.each([
    [{}, false],
    [{ CONTENT_LENGTH: '' }, false],
    [{ CONTENT_LENGTH: '0' }, false],
    [{ CONTENT_LENGTH: '12' }, true],
    [{ HTTP_TRANSFER_ENCODING: 'chunked' }, true],
  ])('%j → %s', (env, expected) => {
    expect(hasBody(env)).toBe(expected);
  });
});

describe('failureResponse', () => {
  test.each([
    ['ERR_CLIENT_CONNECT', 502],
    ['ERR_CLIENT_TIMEOUT', 504],
    ['ERR_CLIENT_CLOSED', 502],
    ['ERR_CLIENT_BAD_REPLY', 502],
    ['ERR_CLIENT_LENGTH_REQUIRED', 411],
    ['ERR_CLIENT_BODY', 400],
  ] as const)('%s → %d, a complete CGI response with a short body', (code, status) => {
    const text = failureResponse(new ClientError(code, 'x')).toString('latin1');
    expect(text).toMatch(new RegExp(`^Status: ${status} [A-Za-z ]+\\r\\nContent-Type: text/plain\\r\\n`));
    const [head, body] = text.split('\r\n\r\n');
    expect(head).toContain(`Content-Length: ${body.length}`);
    expect(body).not.toMatch(/\bat /);
  });

  test('anything else is a 500', () => {
    expect(failureResponse(new UsageError('ERR_USAGE_ADDRESS', 'x')).toString()).toMatch(/^Status: 500 /);
    expect(errorResponse(503, 'Service Unavailable', 'x').toString()).toMatch(
      /^Status: 503 Service Unavailable\r\n/,
    );
  });
});
