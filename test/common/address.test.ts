// parseAddress and formatAddress: listener addresses as users write them; the name a socket is bound under.
import { UsageError } from '../../src/errors';
import { formatAddress, parseAddress, socketBindingName, type ListenAddress } from '../../src/common/address';

describe('parseAddress', () => {
  const valid: Array<[string, ListenAddress]> = [
    ['unix:/run/sluice.sock', { kind: 'unix', path: '/run/sluice.sock' }],
    ['unix:relative.sock', { kind: 'unix', path: 'relative.sock' }],
    ['/run/sluice.sock', { kind: 'unix', path: '/run/sluice.sock' }],
    ['./sluice.sock', { kind: 'unix', path: './sluice.sock' }],
    ['/tmp/with:colon.sock', { kind: 'unix', path: '/tmp/with:colon.sock' }],
    ['127.0.0.1:4000', { kind: 'tcp', host: '127.0.0.1', port: 4000 }],
    ['localhost:9000', { kind: 'tcp', host: 'localhost', port: 9000 }],
    ['0.0.0.0:80', { kind: 'tcp', host: '0.0.0.0', port: 80 }],
    [':8080', { kind: 'tcp', host: '127.0.0.1', port: 8080 }],
    [':0', { kind: 'tcp', host: '127.0.0.1', port: 0 }],
    ['host:65535', { kind: 'tcp', host: 'host', port: 65535 }],
    ['[::1]:8080', { kind: 'tcp', host: '::1', port: 8080 }],
    ['[::]:9000', { kind: 'tcp', host: '::', port: 9000 }],
    ['[fe80::1%eth0]:80', { kind: 'tcp', host: 'fe80::1%eth0', port: 80 }],
    // A descriptor already listening (FCGI_LISTENSOCK_FILENO is 0); once a host named "fd", port 0.
    ['fd:0', { kind: 'fd', fd: 0 }],
    ['fd:3', { kind: 'fd', fd: 3 }],
  ];

  test.each(valid)('%j', (spec, address) => {
    expect(parseAddress(spec)).toEqual(address);
  });

  const invalid: Array<[string, string]> = [
    ['no port', 'localhost'],
    ['empty', ''],
    ['empty port', 'localhost:'],
    ['colon alone', ':'],
    ['port above 65535', 'host:65536'],
    ['port of six digits', 'host:100000'],
    ['negative port', 'host:-1'],
    ['signed port', 'host:+80'],
    ['port with letters', 'host:80a'],
    ['named port', 'host:http'],
    ['port with space', 'host: 80'],
    ['unbracketed IPv6', '::1:8080'],
    ['unbracketed IPv6, full', 'fe80::1:80'],
    ['bracketed IPv6 without port', '[::1]'],
    ['bracketed IPv6 with empty port', '[::1]:'],
    ['empty unix path', 'unix:'],
    ['descriptor without number', 'fd:'],
    ['negative descriptor', 'fd:-1'],
    ['descriptor with letters', 'fd:0x'],
  ];

  test.each(invalid)('%s (%j): ERR_USAGE_ADDRESS', (_name, spec) => {
    let error: unknown;
    try {
      parseAddress(spec);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect(error).toMatchObject({ code: 'ERR_USAGE_ADDRESS' });
  });
});

describe('formatAddress', () => {
  const cases: Array<[ListenAddress, string]> = [
    [{ kind: 'unix', path: '/run/sluice.sock' }, 'unix:/run/sluice.sock'],
    [{ kind: 'tcp', host: '127.0.0.1', port: 4000 }, '127.0.0.1:4000'],
    [{ kind: 'tcp', host: 'localhost', port: 80 }, 'localhost:80'],
    [{ kind: 'tcp', host: '::1', port: 8080 }, '[::1]:8080'],
    [{ kind: 'fd', fd: 0 }, 'fd:0'],
  ];

  test.each(cases)('%j is %j', (address, text) => {
    expect(formatAddress(address)).toBe(text);
  });

  test.each([
    'unix:/a/b.sock',
    '/a/b.sock',
    '10.0.0.1:1',
    ':4000',
    '[::1]:8080',
    '[2001:db8::2]:443',
    'fd:7',
  ])('%j parses back to the same address', (spec) => {
    const address = parseAddress(spec);
    expect(parseAddress(formatAddress(address))).toEqual(address);
  });
});

describe('socketBindingName', () => {
  test('beside the path, with the process id, where that fits in sun_path', () => {
    expect(socketBindingName('/run/app/fastcgi.sock', 4242)).toBe('/run/app/fastcgi.sock.4242');
  });

  test('a shorter name in the same directory where it would not fit, one per socket name', () => {
    const dir = '/' + 'd'.repeat(80);
    const a = socketBindingName(`${dir}/${'a'.repeat(20)}.sock`, 4194304);
    const b = socketBindingName(`${dir}/${'b'.repeat(20)}.sock`, 4194304);
    for (const name of [a, b]) {
      expect(name.startsWith(`${dir}/.4194304.`)).toBe(true);
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(107);
    }
    expect(a).not.toBe(b);
  });
});
