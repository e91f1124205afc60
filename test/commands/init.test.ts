// runInit without npm: every template's files written and filled in, the dependencies it declares,
// and the refusals with their codes (test/integration/init.test.ts installs and runs the projects).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runInit, TEMPLATES } from '../../src/commands/init';
import { REPO_ROOT } from '../helpers/daemon';
import { usageCode } from '../helpers/usage';

let base: string;
const output: string[] = [];
const io = { stdout: { write: (text: string) => output.push(text) } as unknown as NodeJS.WritableStream };

beforeEach(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-init-unit-'));
  output.length = 0;
});

afterEach(() => fs.rmSync(base, { recursive: true, force: true }));

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

test.each(TEMPLATES)('%s: every file written, every placeholder filled in', (template) => {
  const dir = path.join(base, 'My_Shop');
  expect(runInit(dir, { template }, io)).toBe(0);
  expect(filesUnder(dir)).toEqual([
    '.gitignore',
    'README.md',
    'app.mjs',
    'deploy/apache.conf',
    'deploy/my_shop.service',
    'deploy/nginx.conf',
    'deploy/sluice.production.json',
    'package.json',
    'public/style.css',
    'sluice.json',
    'test/app.test.mjs',
  ]);
  for (const file of filesUnder(dir)) {
    expect(fs.readFileSync(path.join(dir, file), 'utf8')).not.toMatch(/\{\{\w+\}\}/);
  }
  const unit = fs.readFileSync(path.join(dir, 'deploy', 'my_shop.service'), 'utf8');
  expect(unit).toContain(`ExecStart=${process.execPath} ${dir}/node_modules/sluice/bin/sluice serve`);
  expect(
    JSON.parse(fs.readFileSync(path.join(dir, 'deploy', 'sluice.production.json'), 'utf8')),
  ).toMatchObject({ chdir: dir, fastcgi: 'unix:/run/my_shop/fastcgi.sock' });
  expect(output.join('')).toContain(`wrote a ${template} project to ${dir}`);
});

test.each(TEMPLATES)('%s: sluice by path, the framework at the range sluice is tested with', (template) => {
  const dir = path.join(base, 'site');
  runInit(dir, { template }, io);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const own = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
  const framework = template === 'gateway' ? {} : { [template]: own.devDependencies[template] };
  expect(manifest.dependencies).toEqual({ sluice: `file:${REPO_ROOT}`, ...framework });
  expect(manifest.scripts).toEqual({ start: 'sluice serve --config sluice.json', test: 'node --test' });
  expect(manifest.name).toBe('site');
});

describe('refusals', () => {
  test('a directory holding a file: ERR_INIT_NOT_EMPTY, nothing written; --force writes beside it', () => {
    fs.writeFileSync(path.join(base, 'keep.txt'), 'mine');
    expect(usageCode(() => runInit(base, { template: 'gateway' }, io))).toBe('ERR_INIT_NOT_EMPTY');
    expect(fs.readdirSync(base)).toEqual(['keep.txt']);
    expect(runInit(base, { template: 'gateway', force: true }, io)).toBe(0);
    expect(fs.readFileSync(path.join(base, 'keep.txt'), 'utf8')).toBe('mine');
  });

  test('a file where the directory should be: ERR_INIT_NOT_EMPTY', () => {
    fs.writeFileSync(path.join(base, 'file'), '');
    expect(usageCode(() => runInit(path.join(base, 'file'), { template: 'gateway' }, io))).toBe(
      'ERR_INIT_NOT_EMPTY',
    );
  });

  test.each(['with space', 'semi;colon', 'dollar$', 'per%cent', 'quote"d'])(
    '%s: ERR_INIT_PATH, the snippets could not carry it',
    (name) => {
      expect(usageCode(() => runInit(path.join(base, name), { template: 'gateway' }, io))).toBe(
        'ERR_INIT_PATH',
      );
    },
  );

  test('a last part with nothing to name the project by: ERR_INIT_PATH', () => {
    expect(usageCode(() => runInit(path.join(base, '...'), { template: 'gateway' }, io))).toBe(
      'ERR_INIT_PATH',
    );
  });
});
