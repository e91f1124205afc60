// parseAppSpec and loadApp: every module kind, named exports, and the UsageErrors of a bad spec.
//
// CommonJS modules load in-process. ES modules and TypeScript cannot: jest's sandbox refuses dynamic
// import() without --experimental-vm-modules, and its own ts-jest transform would hide ts-node. Those
// cases run in one plain node child that loads a fresh transpile of src/process/load-app.ts (not dist/, which
// may be stale), so they check the code as written.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { SluiceError, UsageError } from '../../src/errors';
import { loadApp, parseAppSpec } from '../../src/process/load-app';

const ROOT = path.resolve(__dirname, '../..');

describe('parseAppSpec', () => {
  const cwd = '/srv/site';
  const cases: Array<[string, string, string | undefined]> = [
    ['app.mjs', '/srv/site/app.mjs', undefined],
    ['app.mjs:handler', '/srv/site/app.mjs', 'handler'],
    ['./lib/app.ts:create_app', '/srv/site/lib/app.ts', 'create_app'],
    ['/abs/app.js:$app', '/abs/app.js', '$app'],
    ['../up/app.cjs:App2', '/srv/up/app.cjs', 'App2'],
    ['/srv/a:b/app.js', '/srv/a:b/app.js', undefined],
    ['/srv/a:b/app.js:handler', '/srv/a:b/app.js', 'handler'],
    ['app.mjs:', '/srv/site/app.mjs:', undefined],
    ['app.mjs:1st', '/srv/site/app.mjs:1st', undefined],
    ['app.mjs:with-dash', '/srv/site/app.mjs:with-dash', undefined],
    [':handler', '/srv/site/:handler', undefined],
  ];

  test.each(cases)('%j is file %j, export %j', (spec, file, exportName) => {
    expect(parseAppSpec(spec, cwd)).toEqual({ file, exportName });
  });

  test('relative paths resolve against the working directory by default', () => {
    expect(parseAppSpec('app.mjs').file).toBe(path.resolve(process.cwd(), 'app.mjs'));
  });
});

/** Fixture modules: each app returns a tag naming the module and export it came from. */
const FIXTURES: Record<string, string> = {
  'cjs-function.cjs': "module.exports = function app() { return 'cjs function'; };",
  'cjs-named.cjs': "exports.handler = function () { return 'cjs handler'; };",
  'cjs-default-prop.cjs': "exports.default = function () { return 'cjs default prop'; };",
  'cjs-function-with-named.cjs':
    "module.exports = Object.assign(() => 'cjs main', { other: () => 'cjs other' });",
  'cjs-object.cjs': 'module.exports = { default: 42, handler: "text" };',
  'cjs-nothing.cjs': 'module.exports = {};',
  'cjs-throws.cjs': "throw new Error('boom at load');",
  'cjs-syntax.cjs': 'module.exports = function (',
  'plain.js': "module.exports = () => 'js function';",
  'esm-default.mjs': "export default function app() { return 'mjs default'; }",
  'esm-named.mjs': "export const handler = () => 'mjs handler'; export default () => 'mjs default';",
  'esm-no-default.mjs': "export const handler = () => 'mjs handler';",
  'esm-not-function.mjs': "export default 'not an app'; export const answer = 42;",
  'esm-throws.mjs': "throw new Error('boom at load');",
  'ts-default.ts':
    "type Tag = string;\nexport default function app(): Tag { return 'ts default'; }\nexport const other = (): Tag => 'ts other';",
  'ts-export-equals.ts': "const app = (): string => 'ts export ='; export = app;",
  'ts-not-function.ts': 'export default { app: true };',
  'esm-pkg/package.json': '{ "type": "module" }',
  'esm-pkg/app.js': "export default () => 'js esm default'; export const named = () => 'js esm named';",
};

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sluice-load-app-'));
  mkdirSync(path.join(dir, 'esm-pkg'));
  for (const [name, text] of Object.entries(FIXTURES)) writeFileSync(path.join(dir, name), text);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The outcome of loading a spec: the loaded app's tag, or the error's class and code. */
type Outcome = { tag: unknown } | { error: string; code: string | undefined };

async function load(spec: string): Promise<Outcome> {
  try {
    const app = await loadApp(parseAppSpec(spec, dir));
    return { tag: (app as unknown as () => unknown)() };
  } catch (error) {
    return { error: (error as Error).constructor.name, code: (error as SluiceError).code };
  }
}

const notFound: Outcome = { error: 'UsageError', code: 'ERR_APP_NOT_FOUND' };
const noExport: Outcome = { error: 'UsageError', code: 'ERR_APP_NO_EXPORT' };
const notFunction: Outcome = { error: 'UsageError', code: 'ERR_APP_NOT_FUNCTION' };
const loadFailed: Outcome = { error: 'SluiceError', code: 'ERR_APP_LOAD' };

describe('loadApp in-process (CommonJS)', () => {
  const cases: Array<[string, Outcome]> = [
    ['cjs-function.cjs', { tag: 'cjs function' }],
    ['cjs-named.cjs:handler', { tag: 'cjs handler' }],
    ['cjs-default-prop.cjs', { tag: 'cjs default prop' }],
    ['cjs-function-with-named.cjs', { tag: 'cjs main' }],
    ['cjs-function-with-named.cjs:other', { tag: 'cjs other' }],
    ['plain.js', { tag: 'js function' }],
    ['missing.cjs', notFound],
    ['missing.js:handler', notFound],
    ['cjs-named.cjs', noExport],
    ['cjs-nothing.cjs', noExport],
    ['cjs-function.cjs:handler', noExport],
    ['cjs-object.cjs', notFunction],
    ['cjs-object.cjs:handler', notFunction],
    ['cjs-throws.cjs', loadFailed],
    ['cjs-syntax.cjs', loadFailed],
  ];

  test.each(cases)('%j: %j', async (spec, outcome) => {
    expect(await load(spec)).toEqual(outcome);
  });

  test('the UsageErrors are UsageError instances', async () => {
    await expect(loadApp(parseAppSpec('missing.cjs', dir))).rejects.toBeInstanceOf(UsageError);
  });

  test('a failing module keeps its error as the cause', async () => {
    const error = await loadApp(parseAppSpec('cjs-throws.cjs', dir)).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'ERR_APP_LOAD',
      cause: expect.objectContaining({ message: 'boom at load' }),
    });
  });
});

/** Runs in the node child: loads each spec with the transpiled load-app and prints the outcomes as JSON. */
const CHILD = `
const { loadApp, parseAppSpec } = require('./process/load-app.js');
const [dir, specs] = [process.argv[2], JSON.parse(process.argv[3])];
(async () => {
  const outcomes = {};
  for (const spec of specs) {
    try {
      const app = await loadApp(parseAppSpec(spec, dir));
      outcomes[spec] = { tag: app() };
    } catch (error) {
      outcomes[spec] = { error: error.constructor.name, code: error.code };
    }
  }
  process.stdout.write(JSON.stringify(outcomes));
})();
`;

describe('loadApp in a node child (ES modules, TypeScript)', () => {
  const cases: Array<[string, Outcome]> = [
    ['esm-default.mjs', { tag: 'mjs default' }],
    ['esm-named.mjs:handler', { tag: 'mjs handler' }],
    ['esm-named.mjs', { tag: 'mjs default' }],
    ['esm-no-default.mjs', noExport],
    ['esm-default.mjs:handler', noExport],
    ['esm-not-function.mjs', notFunction],
    ['esm-not-function.mjs:answer', notFunction],
    ['esm-throws.mjs', loadFailed],
    ['missing.mjs', notFound],
    ['esm-pkg/app.js', { tag: 'js esm default' }],
    ['esm-pkg/app.js:named', { tag: 'js esm named' }],
    ['ts-default.ts', { tag: 'ts default' }],
    ['ts-default.ts:other', { tag: 'ts other' }],
    ['ts-default.ts:missing', noExport],
    ['ts-export-equals.ts', { tag: 'ts export =' }],
    ['ts-not-function.ts', notFunction],
    ['missing.ts', notFound],
    // The same CommonJS cases as in-process, outside jest's module system.
    ['cjs-function.cjs', { tag: 'cjs function' }],
    ['cjs-named.cjs:handler', { tag: 'cjs handler' }],
    ['plain.js', { tag: 'js function' }],
    ['cjs-object.cjs', notFunction],
  ];

  let outcomes: Record<string, Outcome>;

  beforeAll(async () => {
    const lib = path.join(dir, 'lib');
    mkdirSync(lib);
    // All of src: load-app reaches the adapters, and they the gateway.
    const names = readdirSync(path.join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((name) => name.endsWith('.ts'))
      .map((name) => name.slice(0, -3));
    for (const name of names) {
      mkdirSync(path.dirname(path.join(lib, name)), { recursive: true });
      const source = readFileSync(path.join(ROOT, 'src', `${name}.ts`), 'utf8');
      const { outputText } = ts.transpileModule(source, {
        compilerOptions: {
          module: ts.ModuleKind.CommonJS,
          target: ts.ScriptTarget.ES2022,
          esModuleInterop: true,
        },
      });
      writeFileSync(path.join(lib, `${name}.js`), outputText);
    }
    writeFileSync(path.join(lib, 'child.js'), CHILD);
    // common/version.ts reads the package's version from ../../package.json.
    writeFileSync(path.join(dir, 'package.json'), readFileSync(path.join(ROOT, 'package.json')));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(lib, 'child.js'), dir, JSON.stringify(cases.map(([spec]) => spec))],
      { env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') }, timeout: 60_000 },
    );
    outcomes = JSON.parse(stdout) as Record<string, Outcome>;
  }, 90_000);

  test.each(cases)('%j: %j', (spec, outcome) => {
    expect(outcomes[spec]).toEqual(outcome);
  });
});
