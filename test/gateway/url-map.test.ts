// urlMap: the longest prefix on a segment boundary wins, the prefix moves from PATH_INFO to SCRIPT_NAME,
// and a path under no prefix is a 404 logged with its code.
import type { App, Environ } from '../../src/gateway/types';
import { urlMap } from '../../src/gateway/url-map';
import { LEVEL, makeEnviron, recordingLogger } from '../helpers/gateway';

/** An app that answers with its name and the paths it was given. */
function named(name: string): App {
  return (environ, startResponse) => {
    startResponse('200 OK', []);
    return [JSON.stringify([name, environ.SCRIPT_NAME, environ.PATH_INFO])];
  };
}

const map = urlMap([
  { prefix: '', app: named('root') },
  { prefix: '/api', app: named('api') },
  { prefix: '/api/v2', app: named('v2') },
  { prefix: '/static/', app: named('static') },
]);

async function call(app: App, environ: Environ): Promise<{ status: string; body: string }> {
  let status = '';
  const body = await app(environ, (line) => {
    status = line;
    return async () => undefined;
  });
  return { status, body: [body as Iterable<unknown>].flatMap((b) => [...b].map(String)).join('') };
}

describe('urlMap', () => {
  test.each([
    // REQUEST_URI      mount      app       SCRIPT_NAME         PATH_INFO
    ['/', '', 'root', '', '/'],
    ['/apix', '', 'root', '', '/apix'],
    ['/api', '', 'api', '/api', ''],
    ['/api/', '', 'api', '/api', '/'],
    ['/api/users?x=1', '', 'api', '/api', '/users'],
    ['/api/v2', '', 'v2', '/api/v2', ''],
    ['/api/v2x', '', 'api', '/api', '/v2x'],
    ['/api/v2/items', '', 'v2', '/api/v2', '/items'],
    // A trailing slash in a prefix is dropped: "/static/" serves "/static" too.
    ['/static/a.css', '', 'static', '/static', '/a.css'],
    // Under --mount, the map works on what is left below the mount, as it would behind a front end.
    ['/app/api/users', '/app', 'api', '/app/api', '/users'],
    ['/app', '/app', 'root', '/app', ''],
  ])(
    '%s (mount %j) goes to %s with SCRIPT_NAME %j and PATH_INFO %j',
    async (uri, mount, app, script, info) => {
      const environ = makeEnviron({ vars: { REQUEST_URI: uri }, mount });
      const { status, body } = await call(map, environ);
      expect(status).toBe('200 OK');
      expect(JSON.parse(body)).toEqual([app, script, info]);
      expect(environ['sluice.mounted']).toBe(true);
    },
  );

  test('a path under no prefix is answered 404 and logged at debug with its code', async () => {
    const { log, lines } = recordingLogger();
    const environ = makeEnviron({ vars: { REQUEST_URI: '/elsewhere' }, log });
    const { status, body } = await call(urlMap([{ prefix: '/api', app: named('api') }]), environ);
    expect(status).toBe('404 Not Found');
    expect(body).toBe('Not Found\n');
    expect(lines).toContainEqual(
      expect.objectContaining({ level: LEVEL.debug, code: 'ERR_URL_MAP_NO_MATCH', path: '/elsewhere' }),
    );
    expect(environ['sluice.mounted']).toBeUndefined();
  });
});
