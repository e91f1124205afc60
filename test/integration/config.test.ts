// --config: the long flags in camelCase as keys, flags winning over them; errors name the key and value.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT, SLUICE_BIN, startDaemon, tempSocketPath } from '../helpers/daemon';
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
  const reloaded = async (count: number): Promise<void> => {
    for (
      let i = 0;
      i < 200 &&
      daemon.logLines().filter((l) => /^reload/.test(String(l.msg)) && l.msg !== 'reloading').length < count;
      i++
    )
      await new Promise((r) => setTimeout(r, 50));
  };
  try {
    expect(await mountSeen()).toBe('no route');
    fs.writeFileSync(
      file,
      JSON.stringify({ app: 'test/fixtures/apps/probe.mjs', scgi: 'unix:' + socket, mount: '/two' }),
    );
    process.kill(daemon.pid, 'SIGHUP');
    await reloaded(1);
    expect(await mountSeen()).toBe('/two');
    fs.writeFileSync(file, '{ "mount": 5, ');
    process.kill(daemon.pid, 'SIGHUP');
    await reloaded(2);
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
