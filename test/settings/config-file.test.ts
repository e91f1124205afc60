import { checkConfig } from '../../src/settings/config-file';
import { DEFAULTS, limitsOf, mergeOptions } from '../../src/settings/options';
import { usageCode } from '../helpers/usage';

describe('config file values', () => {
  test('values are checked and converted like the flags', () => {
    expect(
      checkConfig(
        {
          scgi: ':4000',
          fastcgi: ['unix:/a', '/b'],
          socketMode: '0600',
          maxRequests: '20',
          workers: 2,
          watch: true,
        },
        'x.json',
      ),
    ).toEqual({
      scgi: [':4000'],
      fastcgi: ['unix:/a', '/b'],
      socketMode: 0o600,
      maxRequests: 20,
      workers: 2,
      watch: true,
    });
  });

  test.each([
    [{ maxRequest: 1 }, 'ERR_CONFIG_KEY'],
    [{ maxRequests: 0 }, 'ERR_CONFIG_VALUE'],
    [{ maxRequests: 1.5 }, 'ERR_CONFIG_VALUE'],
    [{ watch: 'yes' }, 'ERR_CONFIG_VALUE'],
    [{ statusPath: 'status' }, 'ERR_CONFIG_VALUE'],
    [{ statusAllow: 'unix,300.1.1.1' }, 'ERR_CONFIG_VALUE'],
    [{ app: '' }, 'ERR_CONFIG_VALUE'],
  ])('%j is refused with %s', (data, code) => {
    expect(usageCode(() => checkConfig(data, 'x.json'))).toBe(code);
  });

  test('later layers win key by key; limits follow', () => {
    const options = mergeOptions({ maxConcurrent: 5, requestTimeout: 100 }, { maxConcurrent: 7 });
    expect(options.maxConcurrent).toBe(7);
    expect(options.drainTimeout).toBe(DEFAULTS.drainTimeout);
    expect(limitsOf(options)).toMatchObject({
      maxConcurrent: 7,
      requestTimeout: 100,
      maxBodyBytes: Infinity,
    });
  });
});
