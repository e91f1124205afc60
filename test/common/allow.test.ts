// Peer filtering for --allow and FCGI_WEB_SERVER_ADDRS.
import { UsageError } from '../../src/errors';
import { peerFilter } from '../../src/common/allow';

describe('peerFilter', () => {
  const filter = peerFilter(['127.0.0.1,10.1.0.0/16', '::1', 'fd00::/8']);

  test.each([
    ['127.0.0.1', true],
    ['127.0.0.2', false],
    ['10.1.200.3', true],
    ['10.2.0.1', false],
    ['::ffff:127.0.0.1', true],
    ['::ffff:10.1.0.9', true],
    ['::ffff:192.168.0.1', false],
    ['::1', true],
    ['fd12::1', true],
    ['fe80::1', false],
  ])('%s allowed: %s', (peer, allowed) => {
    expect(filter.allows(peer)).toBe(allowed);
  });

  test('an unknown peer address is refused', () => {
    expect(filter.allows(undefined)).toBe(false);
  });

  test('entries are kept for the log', () => {
    expect(filter.entries).toEqual(['127.0.0.1', '10.1.0.0/16', '::1', 'fd00::/8']);
  });

  test.each([['localhost'], ['10.0.0.0/33'], ['::1/129'], ['1.2.3.4/x'], ['999.1.1.1']])(
    '%s is a usage error',
    (spec) => {
      expect(() => peerFilter([spec])).toThrow(UsageError);
      try {
        peerFilter([spec]);
      } catch (error) {
        expect((error as UsageError).code).toBe('ERR_USAGE_ALLOW');
      }
    },
  );
});
