// --config: the long flags in camelCase as keys, flags winning over them; errors name the key and value.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT, SLUICE_BIN, startDaemon, tempSocketPath, type Daemon } from '../helpers/daemon';
import { requestVariables, scgiRequest } from '../helpers/scgi';

function configFile(settings: unknown): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-config-')), 'sluice.json');
  fs.writeFileSync(file, typeof settings === 'string' ? settings : JSON.stringify(settings));
  return file;
}

function sluice(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [SLUICE_BIN, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Waits until the daemon logged `count` finished reloads ("reloaded", or "reload refused: …"). */
async function reloaded(daemon: Daemon, count: number): Promise<void> {
  for (
    let i = 0;
    i < 200 &&
    daemon.logLines().filter((l) => /^reload/.test(String(l.msg)) && l.msg !== 'reloading').length < count;
    i++
  )
    await new Promise((r) => setTimeout(r, 50));
}

test('check-config prints the settings: defaults, then the file, then the flags', () => {
  const file = configFile({
    app: 'examples/hello.mjs',
    scgi: ':4000',
    maxRequests: 500,
    socketMode: '0600',
    workers: 3,
  });
  const result = sluice('check-config', '--config', file, '--workers', '2');
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  // One line per setting: name, value, unit (where it has one), where the value came from.
  const lines = new Map(
    result.stdout
      .trimEnd()
      .split('\n')
      .map((line) => line.split(/\s{2,}/))
      .map(([setting, ...rest]) => [setting, rest.join(' ')]),
  );
  expect(Object.fromEntries(lines)).toMatchObject({
    app: 'examples/hello.mjs file',
    scgi: ':4000 file',
    maxRequests: '500 count file',
    socketMode: '0600 file',
    workers: '2 count flag',
    drainTimeout: '10000 ms default',
  });
});

test.each([
  ['an unknown key', { app: 'examples/hello.mjs', maxRequest: 5 }, /unknown key "maxRequest"/],
  [
    'a bad number',
    { app: 'examples/hello.mjs', maxRequests: 'many' },
    /maxRequests: expected an integer >= 1, got "many"/,
  ],
  ['a mode given as a number', { socketMode: 660 }, /socketMode: expected an octal mode .*, got 660/],
  [
    'a bad address in a list',
    { scgi: [':4000', 'nowhere'] },
    /scgi: .*no port.*, got \["?:4000"?,"nowhere"\]/,
  ],
  ['a log level', { logLevel: 'loud' }, /logLevel: expected one of .*, got "loud"/],
  ['not an object', '[1, 2]', /must hold a JSON object/],
  ['not JSON', '{ workers: 2 ', /not valid JSON/],
])('%s is a usage error (exit 2) naming the key and value', (_name, settings, message) => {
  const file = configFile(settings);
  for (const command of ['check-config', 'serve']) {
    const result = sluice(command, '--config', file);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain(file);
  }
});

test('serve --config: the file supplies app and listeners, a flag overrides a setting', async () => {
  const socket = tempSocketPath('c.sock');
  const file = configFile({
    app: 'test/fixtures/apps/probe.mjs',
    scgi: 'unix:' + socket,
    mount: '/from-file',
    pingPath: '/ping',
  });
  const daemon = await startDaemon('--config', [file, '--mount', '/from-flag']);
  try {
    const response = await scgiRequest('unix:' + socket, requestVariables('GET', '/from-flag/env'));
    expect(JSON.parse(response.body.toString())).toMatchObject({
      SCRIPT_NAME: '/from-flag',
      PATH_INFO: '/env',
    });
    const ping = await scgiRequest('unix:' + socket, requestVariables('GET', '/from-flag/ping'));
    expect(ping.body.toString()).toBe('pong\n');
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
});

test('SIGHUP reads the config file again; an invalid one is refused and nothing changes', async () => {
  const socket = tempSocketPath('r.sock');
  const file = configFile({ app: 'test/fixtures/apps/probe.mjs', scgi: 'unix:' + socket });
  const daemon = await startDaemon('--config', [file]);
  // The probe app has no route /two/env: it answers there only once the mount is /two.
  const mountSeen = async (): Promise<string> => {
    const response = await scgiRequest('unix:' + socket, requestVariables('GET', '/two/env'));
    return response.status === 200 ? JSON.parse(response.body.toString()).SCRIPT_NAME : 'no route';
  };
  try {
    expect(await mountSeen()).toBe('no route');
    fs.writeFileSync(
      file,
      JSON.stringify({ app: 'test/fixtures/apps/probe.mjs', scgi: 'unix:' + socket, mount: '/two' }),
    );
    process.kill(daemon.pid, 'SIGHUP');
    await reloaded(daemon, 1);
    expect(await mountSeen()).toBe('/two');
    fs.writeFileSync(file, '{ "mount": 5, ');
    process.kill(daemon.pid, 'SIGHUP');
    await reloaded(daemon, 2);
    expect(
      daemon
        .logLines()
        .some((l) => l.msg === 'reload refused: the configuration is invalid; nothing changed'),
    ).toBe(true);
    expect(await mountSeen()).toBe('/two');
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
});

describe('composition: settings, middleware and apps', () => {
  const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/apps/compose');

  /** A config file in a temp dir whose module paths are relative to it, as docs/config.md says. */
  function composedConfig(greeting: string, tag: string, file = configFile({})): string {
    const relative = (name: string): string => path.relative(path.dirname(file), path.join(FIXTURES, name));
    fs.writeFileSync(
      file,
      JSON.stringify({
        settings: { greeting },
        middleware: [{ use: 'requestId' }, { use: './' + relative('middleware/tag.mjs'), options: { tag } }],
        apps: { '/': relative('site.mjs'), '/api': relative('api/app.mjs') },
      }),
    );
    return file;
  }

  async function get(
    socket: string,
    uri: string,
  ): Promise<{ status: number; headers: Map<string, string>; body: unknown }> {
    const response = await scgiRequest('unix:' + socket, requestVariables('GET', uri));
    const headers = new Map(response.headers.map(([name, value]) => [name.toLowerCase(), value]));
    return { status: response.status, headers, body: JSON.parse(response.body.toString()) };
  }

  test('check-config shows the pipeline: settings keys, middleware outermost first, apps by prefix', () => {
    const file = composedConfig('bonjour', 'one');
    const result = sluice('check-config', '--config', file, '--scgi', ':4000');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const pipeline = result.stdout.slice(result.stdout.indexOf('\npipeline'));
    const rows = pipeline
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s{2,}/));
    expect(rows).toEqual([
      ['settings', 'greeting'],
      ['middleware', 'requestId {}'],
      ['middleware', expect.stringMatching(/tag\.mjs \{"tag":"one"\}$/)],
      ['app /api', path.join(FIXTURES, 'api/app.mjs')],
      ['app /', path.join(FIXTURES, 'site.mjs')],
    ]);
  });

  test.each([
    [
      'an unknown middleware',
      { app: 'examples/hello.mjs', middleware: [{ use: 'requestId' }, { use: 'x' }] },
      /middleware\[1\]\.use: no built-in or module "x"/,
    ],
    ['a middleware entry without use', { middleware: [{ options: {} }] }, /middleware\[0\]\.use: expected/],
    ['a prefix without a slash', { apps: { api: 'a.mjs' } }, /apps\["api"\]: a mount prefix starts with \//],
    ['settings that are no object', { settings: [1] }, /settings: expected a JSON object/],
    ['an app and apps', { app: 'examples/hello.mjs', apps: { '/': 'a.mjs' } }, /both an app .* and "apps"/],
  ])('%s is a usage error (exit 2) naming the key', (_name, settings, message) => {
    const file = configFile({ scgi: ':4000', ...settings });
    for (const command of ['check-config', 'serve']) {
      const result = sluice(command, '--config', file);
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(message);
    }
  });

  test('an Express app under /api beside a gateway app under /, settings, middleware from a path; SIGHUP reloads it', async () => {
    const socket = tempSocketPath('m.sock');
    const file = composedConfig('bonjour', 'one');
    const daemon = await startDaemon('--config', [file, '--scgi', 'unix:' + socket]);
    try {
      const api = await get(socket, '/api/users?x=1');
      expect(api.status).toBe(200);
      // Below its prefix, as Express's own mounting: url and path stripped, baseUrl the prefix.
      expect(api.body).toEqual({
        app: 'api',
        url: '/users?x=1',
        baseUrl: '/api',
        originalUrl: '/api/users?x=1',
        path: '/users',
        query: { x: '1' },
        settings: { greeting: 'bonjour' },
      });
      // The middleware wraps every app, in the order listed.
      expect(api.headers.get('x-tag')).toBe('one');
      expect(api.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

      const site = await get(socket, '/apix/page');
      expect(site.body).toEqual({
        app: 'site',
        greeting: 'bonjour',
        settings: { greeting: 'bonjour' },
        SCRIPT_NAME: '',
        PATH_INFO: '/apix/page',
      });
      expect(site.headers.get('x-tag')).toBe('one');

      composedConfig('hola', 'two', file);
      process.kill(daemon.pid, 'SIGHUP');
      await reloaded(daemon, 1);
      const after = await get(socket, '/');
      expect(after.body).toMatchObject({ greeting: 'hola', settings: { greeting: 'hola' } });
      expect(after.headers.get('x-tag')).toBe('two');

      // A middleware that leads nowhere: the reload is refused and the pipeline stays as it was.
      fs.writeFileSync(file, JSON.stringify({ apps: { '/': 'x.mjs' }, middleware: [{ use: 'nothing' }] }));
      process.kill(daemon.pid, 'SIGHUP');
      await reloaded(daemon, 2);
      expect(daemon.logLines()).toContainEqual(
        expect.objectContaining({
          msg: 'reload refused: the configuration is invalid; nothing changed',
          err: expect.objectContaining({ code: 'ERR_CONFIG_MIDDLEWARE' }),
        }),
      );
      expect((await get(socket, '/')).headers.get('x-tag')).toBe('two');
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });
});
