// --pid-file, --chdir, --log-file, --watch and --max-rss as an operator uses them.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT, startDaemon } from '../helpers/daemon';
import { until } from '../helpers/fastcgi';
import { requestVariables, scgiRequest } from '../helpers/scgi';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-process-'));
}

test('--chdir resolves the app from there; --pid-file holds the primary PID', async () => {
  const dir = tempDir();
  fs.copyFileSync(path.join(REPO_ROOT, 'examples/hello.mjs'), path.join(dir, 'app.mjs'));
  const pidFile = path.join(dir, 'run', 'sluice.pid');
  const daemon = await startDaemon('app.mjs', [
    '--chdir',
    dir,
    '--scgi',
    '127.0.0.1:0',
    '--pid-file',
    pidFile,
  ]);
  try {
    expect(fs.readFileSync(pidFile, 'utf8').trim()).toBe(String(daemon.pid));
    const response = await scgiRequest(daemon.addresses.scgi![0], requestVariables('GET', '/'));
    expect(response.body.toString()).toBe('Hello, world!\n');
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
  expect(fs.existsSync(pidFile)).toBe(false);
});

test('--log-file takes the log lines that would go to stderr', async () => {
  const logFile = path.join(tempDir(), 'log', 'sluice.log');
  const child = spawn(
    process.execPath,
    [
      path.join(REPO_ROOT, 'bin/sluice'),
      'serve',
      'examples/hello.mjs',
      '--scgi',
      '127.0.0.1:0',
      '--log-file',
      logFile,
    ],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    await until(
      () => fs.existsSync(logFile) && fs.readFileSync(logFile, 'utf8').includes('"msg":"ready"'),
      10_000,
      () => stderr,
    );
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
  expect(fs.readFileSync(logFile, 'utf8')).toContain('"msg":"stopped"');
  expect(stderr).toBe('');
});

test('--watch reloads the workers when the app file changes', async () => {
  const dir = tempDir();
  const app = path.join(dir, 'app.mjs');
  const write = (text: string): void =>
    fs.writeFileSync(app, `export default (e, start) => { start('200 OK', []); return ['${text}']; };\n`);
  write('one');
  const daemon = await startDaemon(app, ['--scgi', '127.0.0.1:0', '--watch']);
  const body = async (): Promise<string> =>
    (await scgiRequest(daemon.addresses.scgi![0], requestVariables('GET', '/'))).body.toString();
  try {
    expect(await body()).toBe('one');
    // Node watches a tree on Linux by walking it in the background: a change made at once after
    // "ready" can come before the walk; written again until the reload shows.
    const rewrite = setInterval(() => write('two'), 500);
    write('two');
    try {
      await until(
        () => daemon.logLines().some((l) => l.msg === 'reloaded'),
        10_000,
        () => daemon.logs(),
      );
    } finally {
      clearInterval(rewrite);
    }
    expect(await body()).toBe('two');
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
}, 20_000);

test('--max-rss recycles a worker over the limit', async () => {
  const daemon = await startDaemon('examples/hello.mjs', ['--scgi', '127.0.0.1:0', '--max-rss', '1']);
  try {
    await until(
      () => daemon.logLines().some((l) => l.msg === 'recycling worker'),
      10_000,
      () => daemon.logs(),
    );
    const line = daemon.logLines().find((l) => l.msg === 'recycling worker')!;
    expect(String(line.reason)).toContain('--max-rss');
    const response = await scgiRequest(daemon.addresses.scgi![0], requestVariables('GET', '/'));
    expect(response.status).toBe(200);
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
}, 20_000);
