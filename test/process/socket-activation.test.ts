import { UsageError } from '../../src/errors';
import { inheritedListeners } from '../../src/process/socket-activation';

describe('inheritedListeners (sd_listen_fds)', () => {
  test('names select the protocol; fds start at 3; the variables are removed', () => {
    const env = { LISTEN_PID: '42', LISTEN_FDS: '3', LISTEN_FDNAMES: 'fastcgi:scgi-blog:http.dev' };
    expect(inheritedListeners(env, 42)).toEqual([
      { protocol: 'fastcgi', address: { kind: 'fd', fd: 3, name: 'fastcgi' } },
      { protocol: 'scgi', address: { kind: 'fd', fd: 4, name: 'scgi-blog' } },
      { protocol: 'http', address: { kind: 'fd', fd: 5, name: 'http.dev' } },
    ]);
    expect(env).toEqual({});
  });

  test('sockets meant for another process (LISTEN_PID) are not taken', () => {
    expect(inheritedListeners({ LISTEN_PID: '7', LISTEN_FDS: '1', LISTEN_FDNAMES: 'scgi' }, 42)).toEqual([]);
    expect(inheritedListeners({}, 42)).toEqual([]);
  });

  test.each([
    ['an unnamed socket', { LISTEN_PID: '42', LISTEN_FDS: '1' }],
    ['a name for no protocol', { LISTEN_PID: '42', LISTEN_FDS: '1', LISTEN_FDNAMES: 'scgifoo' }],
    ['a bad count', { LISTEN_PID: '42', LISTEN_FDS: 'x' }],
  ])('%s is a usage error', (_name, env) => {
    expect(() => inheritedListeners(env, 42)).toThrow(UsageError);
    try {
      inheritedListeners({ ...env }, 42);
    } catch (error) {
      expect((error as UsageError).code).toBe('ERR_USAGE_LISTEN_FDS');
    }
  });
});
