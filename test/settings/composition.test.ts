// The config file's composition keys: settings, middleware and apps checked, converted, and refused with
// the key and the problem named.
import path from 'node:path';
import { UsageError } from '../../src/errors';
import { checkConfig } from '../../src/settings/config-file';
import { mergeOptions } from '../../src/settings/options';
import { pipelineReport } from '../../src/settings/report';

const FILE = path.resolve('/etc/sluice/site.json');

/** The message of the UsageError checking `data` throws, with its code. */
function refusal(data: Record<string, unknown>): { code: string; message: string } {
  try {
    checkConfig(data, FILE);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return { code: (error as UsageError).code, message: (error as UsageError).message };
  }
  throw new Error('accepted');
}

describe('accepted', () => {
  test('settings: any JSON object, as given', () => {
    const settings = { db: { host: 'x', port: 5432 }, names: ['a'] };
    expect(checkConfig({ settings }, FILE)).toEqual({ settings });
  });

  test('middleware: in order, options defaulting to {}, the file kept for resolving modules', () => {
    expect(
      checkConfig(
        { middleware: [{ use: 'compress', options: { threshold: 10 } }, { use: './mw/tag.mjs' }] },
        FILE,
      ),
    ).toEqual({
      middleware: [
        { use: 'compress', options: { threshold: 10 }, from: FILE, key: 'middleware[0]' },
        { use: './mw/tag.mjs', options: {}, from: FILE, key: 'middleware[1]' },
      ],
    });
  });

  test('apps: prefixes as --mount takes them, modules made absolute from the file, longest first', () => {
    expect(
      checkConfig(
        { apps: { '/': './site.mjs', '/api/': '../api/app.mjs:handler', '/api/v2': '/srv/v2.cjs' } },
        FILE,
      ),
    ).toEqual({
      apps: [
        { prefix: '/api/v2', app: '/srv/v2.cjs' },
        { prefix: '/api', app: '/etc/api/app.mjs:handler' },
        { prefix: '', app: '/etc/sluice/site.mjs' },
      ],
    });
  });
});

describe('refused, naming the key and the problem', () => {
  test.each([
    [{ settings: 'x' }, 'ERR_CONFIG_VALUE', 'settings: expected a JSON object, got "x"'],
    [{ settings: null }, 'ERR_CONFIG_VALUE', 'settings: expected a JSON object, got null'],
    [{ middleware: { use: 'compress' } }, 'ERR_CONFIG_MIDDLEWARE', 'middleware: expected a list'],
    [{ middleware: ['compress'] }, 'ERR_CONFIG_MIDDLEWARE', 'middleware[0]: expected an object with "use"'],
    [{ middleware: [{ use: '' }] }, 'ERR_CONFIG_MIDDLEWARE', 'middleware[0].use: expected a built-in name'],
    [
      { middleware: [{ use: 'compress' }, { use: 'x', option: {} }] },
      'ERR_CONFIG_MIDDLEWARE',
      'middleware[1].option: unknown key',
    ],
    [
      { middleware: [{ use: 'compress', options: [] }] },
      'ERR_CONFIG_MIDDLEWARE',
      'middleware[0].options: expected a JSON object',
    ],
    [{ apps: {} }, 'ERR_CONFIG_APPS', 'apps: expected an object of path prefixes'],
    [{ apps: ['./a.mjs'] }, 'ERR_CONFIG_APPS', 'apps: expected an object of path prefixes'],
    [{ apps: { api: './a.mjs' } }, 'ERR_CONFIG_APPS', 'apps["api"]: a mount prefix starts with /'],
    [{ apps: { '/api': 5 } }, 'ERR_CONFIG_APPS', 'apps["/api"]: expected an app module path, got 5'],
    [
      { apps: { '/api': './a.mjs', '/api/': './b.mjs' } },
      'ERR_CONFIG_APPS',
      'apps: two apps at the prefix "/api"',
    ],
  ])('%j: %s', (data, code, message) => {
    const refused = refusal(data);
    expect(refused.code).toBe(code);
    expect(refused.message).toContain(`${FILE}: ${message}`);
  });
});

describe("check-config's pipeline", () => {
  test('nothing without composition keys', () => {
    expect(pipelineReport(mergeOptions({ app: 'a.mjs' }))).toBe('');
  });

  test('settings keys, the middleware outermost first, the app', () => {
    const options = mergeOptions(
      { app: 'a.mjs' },
      checkConfig(
        { settings: { a: 1, b: 2 }, middleware: [{ use: 'accessLog', options: { format: 'common' } }] },
        FILE,
      ),
    );
    expect(pipelineReport(options).split('\n')).toEqual([
      '',
      'pipeline (a request passes it top to bottom):',
      '  settings    a, b',
      '  middleware  accessLog {"format":"common"}',
      '  app         a.mjs',
      '',
    ]);
  });
});
