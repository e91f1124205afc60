// loadPipeline: a createApp factory before a default export, the settings in every environ, middleware
// by built-in name or CommonJS module in the order listed, and the errors of a bad middleware.
// (ES modules load in a child process in load-app.test.ts; the daemon test covers them composed.)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SluiceError } from '../../src/errors';
import type { App } from '../../src/gateway/types';
import { checkComposition, loadPipeline } from '../../src/process/pipeline';
import { checkConfig } from '../../src/settings/config-file';
import { mergeOptions, type GivenOptions } from '../../src/settings/options';
import { FakeTransport, makeEnviron, silentLog } from '../helpers/gateway';
import { runApp } from '../../src/gateway/driver';

const MODULES: Record<string, string> = {
  // Answers with its origin, the settings it was made with and those the request carries.
  'factory.cjs': `
    exports.createApp = async (settings) => (environ, start) => {
      start('200 OK', []);
      return [JSON.stringify({ from: 'createApp', made: settings, seen: environ['sluice.settings'] ?? null,
        frozen: Object.isFrozen(settings), paths: [environ.SCRIPT_NAME, environ.PATH_INFO] })];
    };
    exports.default = (environ, start) => { start('200 OK', []); return ['{"from":"default"}']; };
    exports.other = (environ, start) => { start('200 OK', []); return ['{"from":"other"}']; };`,
  'failing-factory.cjs': "exports.createApp = () => { throw new Error('no database'); };",
  'wrap.cjs': `module.exports = (options) => (app) => async (environ, start) =>
    [options.name + '(', ...(await app(environ, start)), ')'];`,
  'not-a-factory.cjs': 'module.exports = { answer: 42 };',
  'returns-nothing.cjs': 'module.exports = () => undefined;',
  'refuses-options.cjs':
    "module.exports = () => { throw Object.assign(new Error('no secret'), { code: 'E_SECRET' }); };",
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sluice-pipeline-'));
  for (const [name, source] of Object.entries(MODULES)) writeFileSync(path.join(dir, name), source);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Options as a config file in `dir` holding `data` gives them. */
function fromConfig(data: Record<string, unknown>): ReturnType<typeof mergeOptions> {
  return mergeOptions(checkConfig(data, path.join(dir, 'sluice.json')) as GivenOptions);
}

async function body(app: App, uri = '/'): Promise<string> {
  const transport = new FakeTransport();
  await runApp(app, makeEnviron({ vars: { REQUEST_URI: uri }, signal: transport.signal }), transport);
  return Buffer.concat(transport.chunks).toString();
}

test('createApp(settings) is the app, before a default export; the same settings reach every environ', async () => {
  const app = await loadPipeline(
    fromConfig({ app: path.join(dir, 'factory.cjs'), settings: { db: { port: 1 } } }),
    silentLog,
  );
  expect(JSON.parse(await body(app))).toEqual({
    from: 'createApp',
    made: { db: { port: 1 } },
    seen: { db: { port: 1 } },
    frozen: true,
    paths: ['', '/'],
  });
});

test('without settings the factory gets {} and the environ none', async () => {
  const app = await loadPipeline(fromConfig({ app: path.join(dir, 'factory.cjs') }), silentLog);
  expect(JSON.parse(await body(app))).toMatchObject({ made: {}, seen: null });
});

test('an export named in the spec is served as it is, factory or not', async () => {
  const app = await loadPipeline(fromConfig({ app: path.join(dir, 'factory.cjs') + ':other' }), silentLog);
  expect(await body(app)).toBe('{"from":"other"}');
});

test('a factory that throws is ERR_APP_LOAD naming the module', async () => {
  const error = await loadPipeline(
    fromConfig({ app: path.join(dir, 'failing-factory.cjs') }),
    silentLog,
  ).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(SluiceError);
  expect((error as SluiceError).code).toBe('ERR_APP_LOAD');
  expect((error as SluiceError).message).toMatch(/failing-factory\.cjs: createApp\(\) failed: no database/);
});

test('middleware: modules resolved from the config file and built-ins, the first listed outermost, around an apps map', async () => {
  const app = await loadPipeline(
    fromConfig({
      apps: { '/v1': './factory.cjs:other', '/': './factory.cjs' },
      middleware: [
        { use: './wrap.cjs', options: { name: 'outer' } },
        { use: 'parseQuery' },
        { use: './wrap.cjs', options: { name: 'inner' } },
      ],
    }),
    silentLog,
  );
  expect(await body(app, '/v1/x')).toBe('outer(inner({"from":"other"}))');
  expect(await body(app, '/y')).toMatch(/^outer\(inner\(\{"from":"createApp"/);
});

test.each([
  [
    './not-a-factory.cjs',
    'ERR_MIDDLEWARE_EXPORT',
    /middleware\[0\] \(\.\/not-a-factory\.cjs\): the default export is no function/,
  ],
  [
    './returns-nothing.cjs',
    'ERR_MIDDLEWARE_EXPORT',
    /the factory returned no function \(app\) => app \(got undefined\)/,
  ],
  ['toString', 'ERR_CONFIG_MIDDLEWARE', /middleware\[0\]\.use: no built-in or module "toString"/],
  [
    './missing.cjs',
    'ERR_CONFIG_MIDDLEWARE',
    /middleware\[0\]\.use: no built-in or module "\.\/missing\.cjs"/,
  ],
])('use %j: %s', async (use, code, message) => {
  const options = fromConfig({
    app: path.join(dir, 'factory.cjs'),
    middleware: [{ use }],
  });
  const error = await loadPipeline(options, silentLog).catch((e: unknown) => e);
  expect((error as SluiceError).code).toBe(code);
  expect((error as SluiceError).message).toMatch(message);
  // What check-config (and a reload) finds before anything loads: a use that leads nowhere.
  if (code === 'ERR_CONFIG_MIDDLEWARE') expect(() => checkComposition(options)).toThrow(message);
  else expect(() => checkComposition(options)).not.toThrow();
});

test('a factory refusing its options: its own error, its message naming the entry', async () => {
  const options = fromConfig({
    app: path.join(dir, 'factory.cjs'),
    middleware: [{ use: './refuses-options.cjs' }],
  });
  const error = (await loadPipeline(options, silentLog).catch((e: unknown) => e)) as Error & { code: string };
  expect(error.code).toBe('E_SECRET');
  expect(error.message).toMatch(/sluice\.json: middleware\[0\] \(\.\/refuses-options\.cjs\): no secret$/);
});

test('sessions by name: its own refusal of a missing secret, naming the entry', async () => {
  const options = fromConfig({ app: path.join(dir, 'factory.cjs'), middleware: [{ use: 'sessions' }] });
  const error = (await loadPipeline(options, silentLog).catch((e: unknown) => e)) as SluiceError;
  expect(error.code).toBe('ERR_SESSION_SECRET');
  expect(error.message).toMatch(/sluice\.json: middleware\[0\] \(sessions\): /);
});
