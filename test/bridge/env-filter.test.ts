// Which variables the bridge forwards: CGI ones only, never HTTP_PROXY, more with --pass.
import { cgiVariablesFrom, isForwarded, searchWords } from '../../src/bridge/env-filter';

// What Apache mod_cgi hands a script, plus what a shell or systemd leaves in a process environment.
const APACHE_ENV = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: '/var/www',
  LANG: 'C',
  NODE_OPTIONS: '--inspect',
  SECRET_TOKEN: 'x',
  GATEWAY_INTERFACE: 'CGI/1.1',
  SERVER_SOFTWARE: 'Apache/2.4.62',
  SERVER_NAME: 'example.com',
  SERVER_ADDR: '127.0.0.1',
  SERVER_PORT: '80',
  SERVER_ADMIN: 'admin@example.com',
  SERVER_SIGNATURE: '',
  SERVER_PROTOCOL: 'HTTP/1.1',
  REQUEST_METHOD: 'POST',
  REQUEST_URI: '/app/x?y=1',
  REQUEST_SCHEME: 'https',
  QUERY_STRING: 'y=1',
  SCRIPT_NAME: '/app',
  SCRIPT_FILENAME: '/usr/lib/cgi-bin/sluice-bridge',
  SCRIPT_URI: 'https://example.com/app/x',
  PATH_INFO: '/x',
  PATH_TRANSLATED: '/var/www/html/x',
  CONTENT_TYPE: 'text/plain',
  CONTENT_LENGTH: '5',
  CONTEXT_PREFIX: '/app',
  CONTEXT_DOCUMENT_ROOT: '/usr/lib/cgi-bin/',
  DOCUMENT_ROOT: '/var/www/html',
  REMOTE_ADDR: '192.0.2.1',
  REMOTE_PORT: '51234',
  REMOTE_USER: 'ann',
  AUTH_TYPE: 'Basic',
  HTTPS: 'on',
  SSL_PROTOCOL: 'TLSv1.3',
  UNIQUE_ID: 'Zx1',
  REDIRECT_STATUS: '200',
  HTTP_HOST: 'example.com',
  HTTP_USER_AGENT: 'curl/8',
  HTTP_PROXY: 'http://evil.test:8080',
};

describe('cgiVariablesFrom', () => {
  const forwarded = Object.fromEntries(cgiVariablesFrom(APACHE_ENV));

  test('forwards every CGI variable a CGI host sets, in order', () => {
    const expected = Object.keys(APACHE_ENV).filter(
      (name) => !['PATH', 'HOME', 'LANG', 'NODE_OPTIONS', 'SECRET_TOKEN', 'HTTP_PROXY'].includes(name),
    );
    expect(Object.keys(forwarded)).toEqual(expected);
  });

  test('never the process environment, never HTTP_PROXY (httpoxy)', () => {
    for (const name of ['PATH', 'HOME', 'LANG', 'NODE_OPTIONS', 'SECRET_TOKEN', 'HTTP_PROXY']) {
      expect(forwarded).not.toHaveProperty(name);
    }
  });

  test('--pass adds names and PREFIX* families, but never HTTP_PROXY', () => {
    const vars = Object.fromEntries(
      cgiVariablesFrom({ ...APACHE_ENV, APP_ENV: 'prod', APP_REGION: 'eu' }, ['LANG', 'APP_*', 'HTTP_PROXY']),
    );
    expect(vars).toMatchObject({ LANG: 'C', APP_ENV: 'prod', APP_REGION: 'eu' });
    expect(vars).not.toHaveProperty('HTTP_PROXY');
    expect(vars).not.toHaveProperty('HOME');
  });

  test('names are case-sensitive: lower-case look-alikes stay behind', () => {
    expect(isForwarded('http_proxy')).toBe(false);
    expect(isForwarded('http_host')).toBe(false);
    expect(isForwarded('HTTP_X_ANYTHING')).toBe(true);
  });

  test('undefined values are skipped', () => {
    expect(cgiVariablesFrom({ REQUEST_METHOD: undefined, QUERY_STRING: '' })).toEqual([['QUERY_STRING', '']]);
  });
});

describe('searchWords (RFC 3875 §4.4)', () => {
  test.each([
    [undefined, []],
    ['', []],
    ['a=1', []],
    ['x=1&flag', []],
    ['word', ['word']],
    ['--connect+evil.test%3A80', ['--connect', 'evil.test:80']],
    ['a%2Bb+%E2%82%AC', ['a+b', '€']],
    ['bad%ZZ', ['bad%ZZ']],
  ])('%j → %j', (query, words) => {
    expect(searchWords(query)).toEqual(words);
  });
});
