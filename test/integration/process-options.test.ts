// --pid-file, --chdir, --log-file, --watch and --max-rss as an operator uses them.
import { spawn, type ChildProcess } from 'node:child_process';
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

interface LoggingToFile {
  child: ChildProcess;
  /** stderr, which must stay empty. */
  stderr(): string;
  exited: Promise<number | null>;
}

/** Starts `sluice serve app ...args --log-file logFile` and waits for "ready" there. */
async function startLoggingTo(app: string, logFile: string, args: string[]): Promise<LoggingToFile> {
  const child = spawn(
    process.execPath,
    [path.join(REPO_ROOT, 'bin/sluice'), 'serve', app, ...args, '--log-file', logFile],
    { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  let gone = false;
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  void exited.then(() => (gone = true));
  try {
    await until(
      () => {
        if (gone) throw new Error(`exited before "ready": ${stderr}`);
        return fs.existsSync(logFile) && fs.readFileSync(logFile, 'utf8').includes('"msg":"ready"');
      },
      10_000,
      () => stderr,
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return { child, stderr: () => stderr, exited };
}

function logLines(file: string): Array<Record<string, unknown>> {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('--log-file takes the log lines that would go to stderr', async () => {
  const logFile = path.join(tempDir(), 'log', 'sluice.log');
  const daemon = await startLoggingTo('examples/hello.mjs', logFile, ['--scgi', '127.0.0.1:0']);
  daemon.child.kill('SIGTERM');
  expect(await daemon.exited).toBe(0);
  expect(fs.readFileSync(logFile, 'utf8')).toContain('"msg":"stopped"');
  expect(daemon.stderr()).toBe('');
});

test('SIGUSR2 reopens --log-file in the primary and every worker after logrotate moved it', async () => {
  const logFile = path.join(tempDir(), 'sluice.log');
  // A slow request writes a line, from the worker that served it.
  const daemon = await startLoggingTo('test/fixtures/apps/probe.mjs', logFile, [
    '--workers',
    '2',
    '--scgi',
    '127.0.0.1:0',
    '--slow-log-ms',
    '5',
  ]);
  try {
    const address = logLines(logFile).find((l) => l.msg === 'listening')!.address as string;
    fs.renameSync(logFile, `${logFile}.1`);
    process.kill(daemon.child.pid!, 'SIGUSR2');
    const reopened = (): Array<Record<string, unknown>> =>
      fs.existsSync(logFile) ? logLines(logFile).filter((l) => l.msg === 'log files reopened') : [];
    await until(
      () => reopened().length === 3,
      5000,
      () => `${daemon.stderr()}\nreopened: ${JSON.stringify(reopened())}`,
    );
    expect(reopened().filter((l) => l.primary === true)).toHaveLength(1);
    expect(new Set(reopened().map((l) => l.worker ?? 'primary'))).toEqual(new Set(['primary', 1, 2]));
    // Nothing more goes to the moved file, and the daemon still serves.
    const moved = fs.readFileSync(`${logFile}.1`, 'utf8');
    const response = await scgiRequest(address, requestVariables('GET', '/slow?ms=20'));
    expect(response.body.toString()).toBe('slept 20\n');
    await until(
      () => logLines(logFile).some((l) => l.msg === 'slow request' && l.uri === '/slow?ms=20'),
      3000,
      () => fs.readFileSync(logFile, 'utf8'),
    );
    expect(fs.readFileSync(`${logFile}.1`, 'utf8')).toBe(moved);
  } finally {
    daemon.child.kill('SIGTERM');
  }
  expect(await daemon.exited).toBe(0);
  expect(logLines(logFile).some((l) => l.msg === 'stopped')).toBe(true);
  expect(daemon.stderr()).toBe('');
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
