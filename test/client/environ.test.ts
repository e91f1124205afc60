// CGI variables from a path or URL, headers and a body length: what `sluice request` sends.
import { parseTarget, requestEnviron } from '../../src/client/environ';

const env = (request: Parameters<typeof requestEnviron>[0]): Record<string, string> =>
  Object.fromEntries(requestEnviron(request));

describe('parseTarget', () => {
  test.each([
    [
      '/x?y=1',
      {
        https: false,
        host: 'localhost',
        serverName: 'localhost',
        port: 80,
        requestUri: '/x?y=1',
        path: '/x',
        query: 'y=1',
      },
    ],
    [
      'http://example.com/a/b',
      {
        https: false,
        host: 'example.com',
        serverName: 'example.com',
        port: 80,
        requestUri: '/a/b',
        path: '/a/b',
        query: '',
      },
    ],
    [
      'https://example.com',
      {
        https: true,
        host: 'example.com',
        serverName: 'example.com',
        port: 443,
        requestUri: '/',
        path: '/',
        query: '',
      },
    ],
    [
      'https://example.com:8443/p?q#frag',
      {
        https: true,
        host: 'example.com:8443',
        serverName: 'example.com',
        port: 8443,
        requestUri: '/p?q',
        path: '/p',
        query: 'q',
      },
    ],
    [
      'HTTP://[::1]:8080?x=1',
      {
        https: false,
        host: '[::1]:8080',
        serverName: '::1',
        port: 8080,
        requestUri: '/?x=1',
        path: '/',
        query: 'x=1',
      },
    ],
    [
      'http://user:pw@host.test/',
      {
        https: false,
        host: 'host.test',
        serverName: 'host.test',
        port: 80,
        requestUri: '/',
        path: '/',
        query: '',
      },
    ],
    [
      '/a/../b%20c?',
      {
        https: false,
        host: 'localhost',
        serverName: 'localhost',
        port: 80,
        requestUri: '/a/../b%20c?',
        path: '/a/../b%20c',
        query: '',
      },
    ],
  ])('%s', (target, expected) => {
    expect(parseTarget(target)).toEqual(expected);
  });

  test.each(['x', 'ftp://host/', 'http://host:99999/', 'http://a:b:c/', ''])(
    '%j is a usage error',
    (target) => {
      expect(() => parseTarget(target)).toThrow(expect.objectContaining({ code: 'ERR_USAGE_TARGET' }));
    },
  );
});

describe('requestEnviron', () => {
  test('a URL sets HTTPS, HTTP_HOST, SERVER_NAME and SERVER_PORT; the request line its variables', () => {
    expect(env({ target: 'https://example.com:8443/search?q=a%20b' })).toMatchObject({
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_PROTOCOL: 'HTTP/1.1',
      REQUEST_METHOD: 'GET',
      REQUEST_URI: '/search?q=a%20b',
      QUERY_STRING: 'q=a%20b',
      SCRIPT_NAME: '/search',
      HTTPS: 'on',
      REQUEST_SCHEME: 'https',
      HTTP_HOST: 'example.com:8443',
      SERVER_NAME: 'example.com',
      SERVER_PORT: '8443',
    });
  });

  test('a path gets localhost:80, no HTTPS, no body variables, and a decoded SCRIPT_NAME', () => {
    const vars = env({ target: '/a%20b' });
    expect(vars).toMatchObject({ HTTP_HOST: 'localhost', SERVER_PORT: '80', SCRIPT_NAME: '/a b' });
    expect(vars).not.toHaveProperty('HTTPS');
    expect(vars).not.toHaveProperty('CONTENT_LENGTH');
    expect(vars).not.toHaveProperty('CONTENT_TYPE');
    expect(vars).not.toHaveProperty('PATH_INFO');
  });

  test('headers become HTTP_* (Content-Type and -Length without the prefix), repeats merged', () => {
    const vars = env({
      method: 'POST',
      target: '/',
      contentLength: 3,
      headers: [
        ['Content-Type', 'text/plain'],
        ['X-Forwarded-For', '1.2.3.4'],
        ['x-forwarded-for', '5.6.7.8'],
        ['Cookie', 'a=1'],
        ['Cookie', 'b=2'],
        ['Host', 'override.test'],
      ],
    });
    expect(vars).toMatchObject({
      REQUEST_METHOD: 'POST',
      CONTENT_LENGTH: '3',
      CONTENT_TYPE: 'text/plain',
      HTTP_X_FORWARDED_FOR: '1.2.3.4, 5.6.7.8',
      HTTP_COOKIE: 'a=1; b=2',
      HTTP_HOST: 'override.test',
    });
    expect(vars).not.toHaveProperty('HTTP_CONTENT_TYPE');
  });

  test('env entries come last and replace anything', () => {
    const vars = env({
      target: '/info.php',
      env: [
        ['SCRIPT_FILENAME', '/srv/info.php'],
        ['REMOTE_ADDR', '10.0.0.1'],
      ],
    });
    expect(vars).toMatchObject({ SCRIPT_FILENAME: '/srv/info.php', REMOTE_ADDR: '10.0.0.1' });
  });

  test.each([
    ['a bad method', { method: 'GET X', target: '/' }, 'ERR_USAGE_METHOD'],
    [
      'a bad header name',
      { target: '/', headers: [['Bad Name', 'x']] as Array<[string, string]> },
      'ERR_USAGE_HEADER',
    ],
  ])('%s is a usage error', (_name, request, code) => {
    expect(() => requestEnviron(request)).toThrow(expect.objectContaining({ code }));
  });
});
