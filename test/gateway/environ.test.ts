// buildCgiVariables, percentDecode, isHttps and createEnviron: merging, defaults, derived paths, extensions.
import { PassThrough, Readable } from 'node:stream';
import { ProtocolError } from '../../src/errors';
import {
  buildCgiVariables,
  createEnviron,
  declaredLength,
  isHttps,
  normalizePath,
  onRequestAbort,
  type CgiVariables,
  type RequestContext,
} from '../../src/gateway/environ';
import { Cancellation } from '../../src/gateway/cancellation';
import { percentDecode } from '../../src/common/latin1';
import { VERSION } from '../../src/common/version';
import { silentLog, variableList } from '../helpers/gateway';

/** A request's variables with REQUEST_METHOD preset; `extra` pairs are appended in order (repeats allowed). */
function build(vars: Record<string, string>, extra: string[] = [], mount = ''): CgiVariables {
  return buildCgiVariables([...variableList({ REQUEST_METHOD: 'GET', ...vars }), ...extra], { mount });
}

describe('repeated variables', () => {
  const cases: Array<{ name: string; list: string[]; expected: CgiVariables }> = [
    {
      name: 'merged with ", "',
      list: ['HTTP_ACCEPT', 'text/html', 'HTTP_ACCEPT', 'application/json'],
      expected: { HTTP_ACCEPT: 'text/html, application/json' },
    },
    {
      name: 'three repeats merged in order',
      list: ['HTTP_X_FORWARDED_FOR', 'a', 'HTTP_X_FORWARDED_FOR', 'b', 'HTTP_X_FORWARDED_FOR', 'c'],
      expected: { HTTP_X_FORWARDED_FOR: 'a, b, c' },
    },
    {
      name: 'cookies merged with "; " (RFC 6265 §5.4)',
      list: ['HTTP_COOKIE', 'a=1', 'HTTP_COOKIE', 'b=2'],
      expected: { HTTP_COOKIE: 'a=1; b=2' },
    },
    {
      name: 'an empty first value still merges',
      list: ['HTTP_X', '', 'HTTP_X', 'v'],
      expected: { HTTP_X: ', v' },
    },
    {
      name: 'interleaved names merge separately',
      list: ['HTTP_A', '1', 'HTTP_B', '2', 'HTTP_A', '3'],
      expected: { HTTP_A: '1, 3', HTTP_B: '2' },
    },
  ];

  test.each(cases)('$name', ({ list, expected }) => {
    expect(build({}, list)).toMatchObject(expected);
  });
});

describe('refused variable lists', () => {
  const cases: Array<{ name: string; list: string[]; code: string }> = [
    {
      name: 'CONTENT_LENGTH twice',
      list: ['REQUEST_METHOD', 'POST', 'CONTENT_LENGTH', '5', 'CONTENT_LENGTH', '5'],
      code: 'ERR_CGI_DUPLICATE_CONTENT_LENGTH',
    },
    {
      name: 'CONTENT_LENGTH twice, differing',
      list: ['CONTENT_LENGTH', '5', 'REQUEST_METHOD', 'POST', 'CONTENT_LENGTH', '50'],
      code: 'ERR_CGI_DUPLICATE_CONTENT_LENGTH',
    },
    { name: 'no REQUEST_METHOD', list: ['REQUEST_URI', '/'], code: 'ERR_CGI_NO_METHOD' },
    { name: 'empty REQUEST_METHOD', list: ['REQUEST_METHOD', ''], code: 'ERR_CGI_NO_METHOD' },
    { name: 'empty list', list: [], code: 'ERR_CGI_NO_METHOD' },
  ];

  test.each(cases)('$name: $code, status 400', ({ list, code }) => {
    let error: unknown;
    try {
      buildCgiVariables(list, { mount: '' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code, status: 400 });
  });
});

describe('defaults and pass-through', () => {
  test('QUERY_STRING defaults to empty and SERVER_PROTOCOL to HTTP/1.0', () => {
    expect(build({ REQUEST_URI: '/' })).toMatchObject({ QUERY_STRING: '', SERVER_PROTOCOL: 'HTTP/1.0' });
  });

  test('values sent are kept over the defaults', () => {
    expect(build({ QUERY_STRING: 'a=1', SERVER_PROTOCOL: 'HTTP/1.1' })).toMatchObject({
      QUERY_STRING: 'a=1',
      SERVER_PROTOCOL: 'HTTP/1.1',
    });
  });

  test('unknown variables pass through unchanged', () => {
    const vars = build({ SERVER_SOFTWARE: 'nginx/1.25', X_CUSTOM: 'a\u00e9', HTTP_EMPTY: '' });
    expect(vars).toMatchObject({ SERVER_SOFTWARE: 'nginx/1.25', X_CUSTOM: 'a\u00e9', HTTP_EMPTY: '' });
  });

  test('a trailing name without a value is ignored', () => {
    const vars = buildCgiVariables(['REQUEST_METHOD', 'GET', 'DANGLING'], { mount: '' });
    expect(Object.keys(vars)).not.toContain('DANGLING');
  });

  test('__proto__ is ignored and does not change the prototype', () => {
    const vars = build({}, ['__proto__', 'x']);
    expect(Object.getPrototypeOf(vars)).toBe(Object.prototype);
    expect(Object.keys(vars)).not.toContain('__proto__');
  });

  // Regression: names shared with Object.prototype were merged with the inherited function's source text.
  test.each(['constructor', 'toString', 'hasOwnProperty', 'valueOf'])(
    'a variable named %s is taken as sent',
    (name) => {
      expect(build({}, [name, 'v'])[name]).toBe('v');
    },
  );

  test('a repeated variable named like an Object.prototype member still merges', () => {
    expect(build({}, ['constructor', 'a', 'constructor', 'b']).constructor).toBe('a, b');
  });
});

/**
 * PATH_INFO absent (nginx's stock params, Apache's ProxyPass): SCRIPT_NAME and PATH_INFO come from the
 * percent-decoded path of REQUEST_URI and the mount prefix.
 */
describe('derived SCRIPT_NAME and PATH_INFO', () => {
  const cases: Array<{
    name: string;
    mount: string;
    vars: Record<string, string>;
    script: string;
    path: string;
  }> = [
    { name: 'no mount: whole path', mount: '', vars: { REQUEST_URI: '/x/y' }, script: '', path: '/x/y' },
    { name: 'no mount: root', mount: '', vars: { REQUEST_URI: '/' }, script: '', path: '/' },
    { name: 'query dropped', mount: '', vars: { REQUEST_URI: '/x?a=1&b=/c' }, script: '', path: '/x' },
    { name: 'under the mount', mount: '/app', vars: { REQUEST_URI: '/app/x' }, script: '/app', path: '/x' },
    {
      name: 'deep under the mount',
      mount: '/app',
      vars: { REQUEST_URI: '/app/x/y/' },
      script: '/app',
      path: '/x/y/',
    },
    { name: 'the mount itself', mount: '/app', vars: { REQUEST_URI: '/app' }, script: '/app', path: '' },
    {
      name: 'the mount with a slash',
      mount: '/app',
      vars: { REQUEST_URI: '/app/' },
      script: '/app',
      path: '/',
    },
    {
      name: 'the mount with a query',
      mount: '/app',
      vars: { REQUEST_URI: '/app?x=1' },
      script: '/app',
      path: '',
    },
    {
      name: 'a longer segment is not under the mount',
      mount: '/app',
      vars: { REQUEST_URI: '/application' },
      script: '',
      path: '/application',
    },
    {
      name: 'a path elsewhere is not under the mount',
      mount: '/app',
      vars: { REQUEST_URI: '/other/app/x' },
      script: '',
      path: '/other/app/x',
    },
    {
      name: 'multi-segment mount',
      mount: '/a/b',
      vars: { REQUEST_URI: '/a/b/c' },
      script: '/a/b',
      path: '/c',
    },
    { name: 'percent-decoded', mount: '', vars: { REQUEST_URI: '/a%20b' }, script: '', path: '/a b' },
    {
      name: 'decoded as latin1 bytes',
      mount: '',
      vars: { REQUEST_URI: '/caf%C3%A9' },
      script: '',
      path: '/caf\u00c3\u00a9',
    },
    {
      name: 'mount matched after decoding',
      mount: '/app',
      vars: { REQUEST_URI: '/%61pp/x' },
      script: '/app',
      path: '/x',
    },
    {
      name: 'malformed escapes kept',
      mount: '',
      vars: { REQUEST_URI: '/%zz/%4' },
      script: '',
      path: '/%zz/%4',
    },
    {
      name: 'absolute-form target',
      mount: '/app',
      vars: { REQUEST_URI: 'http://example.com/app/x?q=1' },
      script: '/app',
      path: '/x',
    },
    {
      name: 'absolute-form target without a path',
      mount: '',
      vars: { REQUEST_URI: 'https://example.com' },
      script: '',
      path: '/',
    },
    {
      name: 'Apache style: SCRIPT_NAME is the whole path, no mount',
      mount: '',
      vars: { REQUEST_URI: '/app/x', SCRIPT_NAME: '/app/x' },
      script: '',
      path: '/app/x',
    },
    {
      name: 'Apache style: SCRIPT_NAME is the whole path, mounted',
      mount: '/app',
      vars: { REQUEST_URI: '/app/x?y=1', SCRIPT_NAME: '/app/x' },
      script: '/app',
      path: '/x',
    },
    {
      name: 'no REQUEST_URI either: empty PATH_INFO',
      mount: '/app',
      vars: {},
      script: '',
      path: '',
    },
  ];

  test.each(cases)('$name', ({ mount, vars, script, path }) => {
    const result = build(vars, [], mount);
    expect([result.SCRIPT_NAME, result.PATH_INFO]).toEqual([script, path]);
  });
});

describe('PATH_INFO sent by the front end', () => {
  const cases: Array<{
    name: string;
    mount: string;
    vars: Record<string, string>;
    script: string;
    path: string;
  }> = [
    {
      name: 'kept as sent, not decoded again',
      mount: '',
      vars: { REQUEST_URI: '/cgi/a%2520b', SCRIPT_NAME: '/cgi', PATH_INFO: '/a%20b' },
      script: '/cgi',
      path: '/a%20b',
    },
    {
      name: 'mount ignored',
      mount: '/app',
      vars: { REQUEST_URI: '/app/x', SCRIPT_NAME: '', PATH_INFO: '/app/x' },
      script: '',
      path: '/app/x',
    },
    {
      name: 'empty PATH_INFO kept',
      mount: '/app',
      vars: { REQUEST_URI: '/app/x', SCRIPT_NAME: '/app/x', PATH_INFO: '' },
      script: '/app/x',
      path: '',
    },
    {
      name: 'SCRIPT_NAME defaults to empty',
      mount: '',
      vars: { PATH_INFO: '/x' },
      script: '',
      path: '/x',
    },
  ];

  test.each(cases)('$name', ({ mount, vars, script, path }) => {
    const result = build(vars, [], mount);
    expect([result.SCRIPT_NAME, result.PATH_INFO]).toEqual([script, path]);
  });
});

describe('REQUEST_URI', () => {
  const cases: Array<{ name: string; vars: Record<string, string>; uri: string }> = [
    { name: 'kept when sent', vars: { REQUEST_URI: '/a%20b?x=1', PATH_INFO: '/other' }, uri: '/a%20b?x=1' },
    {
      name: 'rebuilt from SCRIPT_NAME and PATH_INFO',
      vars: { SCRIPT_NAME: '/app', PATH_INFO: '/x' },
      uri: '/app/x',
    },
    {
      name: 'rebuilt with the query',
      vars: { SCRIPT_NAME: '/app', PATH_INFO: '/x', QUERY_STRING: 'a=1&b=2' },
      uri: '/app/x?a=1&b=2',
    },
    { name: 'rebuilt as / when there is no path', vars: {}, uri: '/' },
    { name: 'rebuilt as / with a query', vars: { QUERY_STRING: 'q' }, uri: '/?q' },
    { name: 'rebuilt percent-encoded', vars: { PATH_INFO: '/a b/100%' }, uri: '/a%20b/100%25' },
    {
      name: 'latin1 bytes encoded one escape each',
      vars: { PATH_INFO: '/caf\u00c3\u00a9' },
      uri: '/caf%C3%A9',
    },
    { name: 'sub-delims and : @ kept', vars: { PATH_INFO: "/a:b@c!$&'()*+,;=~" }, uri: "/a:b@c!$&'()*+,;=~" },
    { name: '? and # in PATH_INFO encoded', vars: { PATH_INFO: '/a?b#c' }, uri: '/a%3Fb%23c' },
  ];

  test.each(cases)('$name', ({ vars, uri }) => {
    expect(build(vars).REQUEST_URI).toBe(uri);
  });

  test('a rebuilt REQUEST_URI derives the same paths again (round trip)', () => {
    const first = build({ SCRIPT_NAME: '/app', PATH_INFO: '/a b/\u00e9%' });
    const again = build({ REQUEST_URI: first.REQUEST_URI }, [], '/app');
    expect([again.SCRIPT_NAME, again.PATH_INFO]).toEqual(['/app', '/a b/\u00e9%']);
  });
});

describe('percentDecode', () => {
  const cases: Array<[string, string]> = [
    ['', ''],
    ['/plain', '/plain'],
    ['%41%42', 'AB'],
    ['%2f%2F', '//'],
    ['%e9', '\u00e9'],
    ['%C3%A9', '\u00c3\u00a9'],
    ['%00', '\u0000'],
    ['%', '%'],
    ['%4', '%4'],
    ['%G1', '%G1'],
    ['%%41', '%A'],
    ['%2541', '%41'],
    ['a+b', 'a+b'],
  ];

  test.each(cases)('%j decodes to %j', (input, output) => {
    expect(percentDecode(input)).toBe(output);
  });
});

describe('declaredLength', () => {
  const lengths: Array<[string | undefined, number | null]> = [
    [undefined, null],
    ['', null],
    ['0', 0],
    ['5', 5],
    ['007', 7],
    ['999999999999999', 999999999999999],
  ];

  test.each(lengths)('CONTENT_LENGTH=%j is %j', (value, length) => {
    const vars: CgiVariables = value === undefined ? {} : { CONTENT_LENGTH: value };
    expect(declaredLength(vars, 'CONTENT_LENGTH')).toBe(length);
  });

  test('reads the variable it is given', () => {
    expect(declaredLength({ FCGI_DATA_LENGTH: '12', CONTENT_LENGTH: '3' }, 'FCGI_DATA_LENGTH')).toBe(12);
  });

  const refused = ['-1', '+5', ' 5', '5 ', '1e3', '0x10', '1.5', 'five', '1234567890123456'];

  test.each(refused)('CONTENT_LENGTH=%j: ERR_CGI_BAD_LENGTH, status 400', (value) => {
    let error: unknown;
    try {
      declaredLength({ CONTENT_LENGTH: value }, 'CONTENT_LENGTH');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: 'ERR_CGI_BAD_LENGTH', status: 400 });
  });
});

describe('isHttps', () => {
  const cases: Array<[string | undefined, boolean]> = [
    ['on', true],
    ['ON', true],
    ['On', true],
    ['1', true],
    ['off', false],
    ['0', false],
    ['', false],
    ['yes', false],
    [undefined, false],
  ];

  test.each(cases)('HTTPS=%j is %s', (https, expected) => {
    const vars: CgiVariables = https === undefined ? {} : { HTTPS: https };
    expect(isHttps(vars)).toBe(expected);
  });
});

describe('createEnviron', () => {
  function context(overrides: Partial<RequestContext> = {}): RequestContext {
    return {
      input: Readable.from([]),
      errors: new PassThrough(),
      signal: new AbortController().signal,
      protocol: 'fastcgi',
      log: silentLog,
      multiprocess: false,
      ...overrides,
    };
  }

  test('every sluice.* key is present with its value', () => {
    const request = context({ multiprocess: true });
    const environ = createEnviron(build({ REQUEST_URI: '/' }), request);
    expect(environ).toMatchObject({
      'sluice.input': request.input,
      'sluice.errors': request.errors,
      'sluice.url_scheme': 'http',
      'sluice.signal': request.signal,
      'sluice.protocol': 'fastcgi',
      'sluice.version': VERSION,
      'sluice.multithread': true,
      'sluice.multiprocess': true,
      'sluice.run_once': false,
      'sluice.log': request.log,
    });
  });

  test('the sluice.* keys are exactly the documented set', () => {
    const environ = createEnviron(build({}), context());
    expect(
      Object.keys(environ)
        .filter((key) => key.startsWith('sluice.'))
        .sort(),
    ).toEqual(
      [
        'sluice.errors',
        'sluice.input',
        'sluice.log',
        'sluice.multiprocess',
        'sluice.multithread',
        'sluice.protocol',
        'sluice.run_once',
        'sluice.signal',
        'sluice.url_scheme',
        'sluice.version',
      ].sort(),
    );
  });

  test.each([
    ['on', 'https'],
    ['1', 'https'],
    ['off', 'http'],
  ])('HTTPS=%s gives sluice.url_scheme %s', (https, scheme) => {
    expect(createEnviron(build({ HTTPS: https }), context())['sluice.url_scheme']).toBe(scheme);
  });

  test('extends the variables object and keeps every CGI variable', () => {
    const vars = build({ HTTP_HOST: 'example.com', PATH_INFO: '/x' });
    const snapshot = { ...vars };
    const environ = createEnviron(vars, context());
    expect(environ).toBe(vars);
    expect(environ).toMatchObject(snapshot);
  });

  describe('input, errors, signal and log are read from the request only when the app reads them', () => {
    const lazyKeys = [
      ['sluice.input', 'input'],
      ['sluice.errors', 'errors'],
      ['sluice.signal', 'signal'],
      ['sluice.log', 'log'],
    ] as const;

    function countingContext(): {
      request: RequestContext;
      values: RequestContext;
      reads: Record<string, number>;
    } {
      const reads: Record<string, number> = {};
      const values = context();
      const request = { ...values };
      for (const [, field] of lazyKeys) {
        Object.defineProperty(request, field, {
          get: () => {
            reads[field] = (reads[field] ?? 0) + 1;
            return values[field];
          },
        });
      }
      return { request, values, reads };
    }

    test('building the environ reads none of them', () => {
      const { request, reads } = countingContext();
      createEnviron(build({}), request);
      expect(reads).toEqual({});
    });

    // Redefining a key as it is read would put the environ in V8's dictionary mode: the accessor
    // stays, and the request gives the same object at every read.
    test.each(lazyKeys)(
      '%s is read from the request at each use; assigning makes it a data property',
      (key, field) => {
        const { request, values, reads } = countingContext();
        const environ = createEnviron(build({}), request) as unknown as Record<string, unknown>;
        expect(environ[key]).toBe(values[field]);
        expect(environ[key]).toBe(values[field]);
        expect(reads[field]).toBe(2);
        expect(Object.getOwnPropertyDescriptor(environ, key)).toMatchObject({
          get: expect.any(Function),
          enumerable: true,
          configurable: true,
        });
        environ[key] = 'replaced';
        expect(environ[key]).toBe('replaced');
        expect(Object.getOwnPropertyDescriptor(environ, key)).toMatchObject({
          value: 'replaced',
          writable: true,
          enumerable: true,
          configurable: true,
        });
      },
    );

    test('a copy of the environ carries the values (the dict a middleware builds)', () => {
      const request = context();
      const environ = createEnviron(build({}), request);
      const copy = { ...environ };
      expect(copy['sluice.input']).toBe(request.input);
      expect(copy['sluice.signal']).toBe(request.signal);
      expect(Object.getOwnPropertySymbols(copy)).toEqual([]);
    });

    test('an app or middleware may replace them before reading', () => {
      const { request, reads } = countingContext();
      const environ = createEnviron(build({}), request);
      const replacement = new PassThrough();
      environ['sluice.input'] = replacement;
      expect(environ['sluice.input']).toBe(replacement);
      expect(reads.input).toBeUndefined();
    });
  });

  describe('onRequestAbort', () => {
    /** A context whose signal is made from its Cancellation on first read, as the connections do. */
    function cancellable(): {
      request: RequestContext;
      cancellation: Cancellation;
      signalReads: () => number;
    } {
      const cancellation = new Cancellation();
      let reads = 0;
      const request = context({ cancellation });
      Object.defineProperty(request, 'signal', {
        get: () => {
          reads++;
          return cancellation.signal;
        },
      });
      return { request, cancellation, signalReads: () => reads };
    }

    test('follows the connection flag without making the signal', () => {
      const { request, cancellation, signalReads } = cancellable();
      const environ = createEnviron(build({}), request);
      const listener = jest.fn();
      onRequestAbort(environ, listener);
      expect(listener).not.toHaveBeenCalled();
      cancellation.abort();
      expect(listener).toHaveBeenCalledTimes(1);
      expect(signalReads()).toBe(0);
    });

    test('calls at once when the request was aborted already, by flag or by signal', () => {
      const { request, cancellation } = cancellable();
      cancellation.abort();
      const listener = jest.fn();
      onRequestAbort(createEnviron(build({}), request), listener);
      expect(listener).toHaveBeenCalledTimes(1);
      const controller = new AbortController();
      controller.abort();
      const late = jest.fn();
      onRequestAbort(createEnviron(build({}), context({ signal: controller.signal })), late);
      expect(late).toHaveBeenCalledTimes(1);
    });

    test('follows a signal a middleware put in place of the connection one', () => {
      const { request, cancellation } = cancellable();
      const environ = createEnviron(build({}), request);
      const controller = new AbortController();
      environ['sluice.signal'] = controller.signal;
      const listener = jest.fn();
      onRequestAbort(environ, listener);
      cancellation.abort();
      expect(listener).not.toHaveBeenCalled();
      controller.abort();
      expect(listener).toHaveBeenCalledTimes(1);
    });

    test('a copy of the environ (no connection behind it) follows its signal', () => {
      const controller = new AbortController();
      const environ = { ...createEnviron(build({}), context({ signal: controller.signal })) };
      const listener = jest.fn();
      onRequestAbort(environ, listener);
      controller.abort();
      expect(listener).toHaveBeenCalledTimes(1);
    });
  });
});

describe('normalizePath', () => {
  test.each([
    ['/a/b', '/a/b'],
    ['/a//b', '/a/b'],
    ['/a/./b', '/a/b'],
    ['/a/../b', '/b'],
    ['/../../x', '/x'],
    ['/a/b/', '/a/b/'],
    ['/a/b/..', '/a/'],
    ['/a/.', '/a/'],
    ['//', '/'],
    ['/a/b/../../..', '/'],
    ['/a/.hidden', '/a/.hidden'],
    ['/a/..b', '/a/..b'],
  ])('%s → %s', (input, output) => {
    expect(normalizePath(input)).toBe(output);
  });

  test('a derived PATH_INFO is normalized after percent-decoding, so encoded dots cannot climb', () => {
    const vars = buildCgiVariables(['REQUEST_METHOD', 'GET', 'REQUEST_URI', '/public/%2e%2e//admin/x?q'], {
      mount: '',
    });
    expect(vars.PATH_INFO).toBe('/admin/x');
  });
});
