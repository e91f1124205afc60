// `sluice init`: each template generated, installed against this checkout, its own test passing, its
// sluice.json serving, and its production config and nginx snippet answering through a real nginx.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TEMPLATES } from '../../src/commands/init';
import { startDaemon, tempSocketPath } from '../helpers/daemon';
import { requireBinary, startFrontEnd, type FrontEnd } from '../helpers/frontends';
import { request } from '../helpers/http';
import { serveFiles, stage, type Staged } from '../helpers/stage';

// Installing a project takes seconds each even from the npm cache.
jest.setTimeout(120_000);

// Evaluated at collection time: under CI=true a missing nginx throws here and fails the file.
const withNginx = requireBinary('nginx');
const withSystemd = requireBinary('systemd-analyze');

/** The socket the generated deploy files name, and the one the test harness rewrites. */
const CANONICAL_SOCKET = 'unix:/run/sluice/fastcgi.sock';

let sluice: Staged;
let base: string;

beforeAll(() => {
  // A copy of this sluice as a package of its own, readable by nginx's workers: what the project
  // links to (`file:`), so that npm never touches the checkout's node_modules.
  sluice = stage([...serveFiles(), 'templates']);
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-init-'));
  fs.chmodSync(base, 0o755);
});

afterAll(() => {
  sluice?.remove();
  if (base !== undefined) fs.rmSync(base, { recursive: true, force: true });
});

function run(
  command: string,
  args: string[],
  cwd: string,
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 110_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function init(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return run(process.execPath, [sluice.at('bin/sluice'), 'init', ...args], base);
}

describe.each(TEMPLATES)('the %s template', (template) => {
  const name = `${template}-site`;
  const dir = (): string => path.join(base, name);

  test('is written, installed against this sluice, and its own test passes', () => {
    const made = init(name, '--template', template);
    expect(made.stderr).toBe('');
    expect(made.status).toBe(0);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir(), 'package.json'), 'utf8'));
    const own = JSON.parse(fs.readFileSync(sluice.at('package.json'), 'utf8'));
    expect(manifest.dependencies.sluice).toBe(`file:${sluice.dir}`);
    if (template !== 'gateway') {
      expect(manifest.dependencies[template]).toBe(own.devDependencies[template]);
    }
    const unit = fs.readFileSync(path.join(dir(), 'deploy', `${name}.service`), 'utf8');
    expect(unit).toContain(`--config ${dir()}/deploy/sluice.production.json`);
    expect(unit).toContain(`RuntimeDirectory=${name}`);
    for (const file of ['nginx.conf', 'apache.conf']) {
      const site = fs.readFileSync(path.join(dir(), 'deploy', file), 'utf8');
      expect(site).toContain(`${dir()}/public/`);
      expect(site).toContain(`unix:/run/${name}/fastcgi.sock`);
      expect(site).not.toMatch(/\{\{/);
    }

    // --ignore-scripts: npm would otherwise run sluice's `prepare` (a TypeScript build) in the copy.
    const installed = run(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'],
      dir(),
    );
    if (installed.status !== 0) throw new Error(`npm install failed:\n${installed.stderr}`);
    expect(fs.realpathSync(path.join(dir(), 'node_modules', 'sluice'))).toBe(fs.realpathSync(sluice.dir));

    if (withSystemd) {
      // Once installed, the unit's ExecStart= exists: systemd's own check of keys and paths.
      const verified = run(
        'systemd-analyze',
        ['verify', '--man=no', `./${name}.service`],
        path.join(dir(), 'deploy'),
      );
      expect({ status: verified.status, output: `${verified.stdout}${verified.stderr}`.trim() }).toEqual({
        status: 0,
        output: '',
      });
    }

    const tested = run('npm', ['test'], dir());
    if (tested.status !== 0) throw new Error(`npm test failed:\n${tested.stdout}\n${tested.stderr}`);
    expect(tested.stdout).toMatch(/# pass 2/);
  });

  test('sluice.json serves the app and public/ on the HTTP listener', async () => {
    // The address of sluice.json (127.0.0.1:8080) moved to a free port.
    const daemon = await startDaemon('--config=sluice.json', ['--http', '127.0.0.1:0'], {
      cwd: dir(),
      bin: path.join(dir(), 'node_modules', 'sluice', 'bin', 'sluice'),
    });
    try {
      const port = Number(daemon.addresses.http![0].split(':').pop());
      const home = await request({ port, path: '/' });
      expect([home.status, home.body.toString()]).toEqual([200, `Hello from ${name} over http!\n`]);
      const css = await request({ port, path: '/static/style.css' });
      expect(css.status).toBe(200);
      expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });

  (withNginx ? test : test.skip)(
    'its production config answers through nginx with its nginx site',
    async () => {
      const socket = tempSocketPath(`${template}.sock`);
      // Only the socket moves (and opens to nginx's workers); chdir, app and the rest are the file's.
      const daemon = await startDaemon(
        `--config=${path.join(dir(), 'deploy', 'sluice.production.json')}`,
        ['--fastcgi', `unix:${socket}`, '--socket-mode', '0666', '--workers', '1'],
        { bin: path.join(dir(), 'node_modules', 'sluice', 'bin', 'sluice') },
      );
      // Named for its protocol, as the harness tells FastCGI sites from SCGI ones.
      const site = path.join(base, `${name}-nginx-fastcgi.conf`);
      fs.writeFileSync(
        site,
        fs
          .readFileSync(path.join(dir(), 'deploy', 'nginx.conf'), 'utf8')
          .replaceAll(`unix:/run/${name}/fastcgi.sock`, CANONICAL_SOCKET),
      );
      let nginx: FrontEnd | undefined;
      try {
        nginx = await startFrontEnd('nginx', site, { fastcgi: `unix:${socket}` });
        const home = await request({ port: nginx.port, path: '/' });
        if (home.status !== 200) throw new Error(`status ${home.status}\n${nginx.errorLog()}`);
        expect(home.body.toString()).toBe(`Hello from ${name} over fastcgi!\n`);
        const ping = await request({ port: nginx.port, path: '/ping' });
        expect(ping.body.toString()).toBe('pong\n');
        // nginx serves public/ itself, from the path the snippet was filled in with.
        const css = await request({ port: nginx.port, path: '/static/style.css' });
        expect([css.status, css.body.toString()]).toEqual([
          200,
          fs.readFileSync(path.join(dir(), 'public', 'style.css'), 'utf8'),
        ]);
      } finally {
        await nginx?.stop();
        expect(await daemon.stop()).toBe(0);
      }
    },
  );
});

describe('refusals', () => {
  test('a directory that is not empty, without --force: exit 2, nothing written', () => {
    const dir = path.join(base, 'occupied');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    const refused = init(dir);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/not empty.*--force/);
    expect(fs.readdirSync(dir)).toEqual(['notes.txt']);
    const forced = init(dir, '--force');
    expect(forced.status).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    expect(fs.existsSync(path.join(dir, 'app.mjs'))).toBe(true);
  });

  test.each([
    ['an unknown template', ['elsewhere', '--template', 'django']],
    ['a path the deploy snippets cannot carry', ['with space']],
    ['a file where the directory should be', ['occupied/notes.txt']],
  ])('%s: exit 2', (_what, args) => {
    const result = init(...args);
    expect(result.status).toBe(2);
    expect(result.stderr.length).toBeGreaterThan(0);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
