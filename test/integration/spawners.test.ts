// sluice started by the real FastCGI spawners, which leave a listening socket on fd 0 (spec §2.2):
// libfcgi's `cgi-fcgi -start -connect` and `spawn-fcgi`. Each starts the app and exits (spawn-fcgi -n
// execs it instead); the app runs on until SIGTERM, as a web server's process manager stops it.
// And lighttpd's mod_fastcgi "bin-path", from the shipped deploy/lighttpd/sluice-fastcgi-spawned.conf:
// lighttpd is the process manager there, starting max-procs copies, starting one again when it dies
// and stopping them when it stops. spawn-fcgi and cgi-fcgi are no process managers: nothing restarts a
// copy that dies.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { REPO_ROOT, SLUICE_BIN, startDaemon, tempSocketPath } from '../helpers/daemon';
import { fcgiParams, fcgiRequest, until } from '../helpers/fastcgi';
import { findBinary, freePort, pidAlive, requireBinary, startFrontEnd } from '../helpers/frontends';
import { serveFiles, stage } from '../helpers/stage';
import { childrenOf, killLeftovers, sluiceProcesses } from '../helpers/spawned-processes';

const PROBE = path.join(REPO_ROOT, 'test', 'fixtures', 'apps', 'probe.mjs');
// Under CI=true a missing spawner throws here, so the file fails instead of skipping.
const withCgiFcgi = requireBinary('cgi-fcgi') ? test : test.skip;
const withSpawnFcgi = requireBinary('spawn-fcgi') ? test : test.skip;
const withLighttpd = requireBinary('lighttpd') ? test : test.skip;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { env, timeout: 15_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : ((error as { code?: number }).code ?? null), stdout, stderr }),
    );
  });
}

/** The directory of a fresh socket path: world-readable, for files the spawned app must read. */
function stagingDir(socket: string): string {
  return path.dirname(socket);
}

/** A wrapper script that execs sluice with `args`: cgi-fcgi -start runs its app without arguments. */
function wrapper(dir: string, args: string[]): string {
  const file = path.join(dir, 'sluice-wrapper');
  const command = [process.execPath, SLUICE_BIN, 'serve', PROBE, ...args].map((a) => `'${a}'`).join(' ');
  fs.writeFileSync(file, `#!/bin/sh\nexec ${command}\n`, { mode: 0o755 });
  return file;
}

async function envOf(address: string): Promise<Record<string, string>> {
  const reply = await fcgiRequest(address, { params: fcgiParams('GET', '/env') }, 15_000);
  return JSON.parse(reply.response().body.toString()) as Record<string, string>;
}

/** Waits for a pid file, then for the log's "ready"; resolves with the pid. */
async function started(pidFile: string, logFile: string): Promise<number> {
  const log = (): string => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  await until(() => fs.existsSync(pidFile) && log().includes('"msg":"ready"'), 15_000, log);
  return Number(fs.readFileSync(pidFile, 'utf8').trim());
}

/**
 * SIGTERM, as spawners stop their apps; resolves once the process and every child it had are gone.
 * It is no child of this test (the spawner exited), so /proc, not an exit event, tells.
 */
async function stopAndCheck(pid: number, logFile: string): Promise<void> {
  const children = childrenOf(pid);
  process.kill(pid, 'SIGTERM');
  const gone = (): boolean => ![pid, ...children].some(pidAlive);
  await until(gone, 15_000, () => fs.readFileSync(logFile, 'utf8'));
  expect(fs.readFileSync(logFile, 'utf8')).toMatch(/"msg":"stopped"/);
}

/**
 * Kills what a failed test left running, by the pid in its pid file (written before the test
 * learns it): the spawner exited, so nothing else would stop it.
 */
function cleanUp(pidFile: string): void {
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  if (pid > 0 && pidAlive(pid)) process.kill(pid, 'SIGKILL');
}

describe('cgi-fcgi -start -connect', () => {
  withCgiFcgi(
    'starts sluice on its Unix socket; requests through cgi-fcgi -bind; SIGTERM stops it',
    async () => {
      const socket = tempSocketPath('cgi-fcgi-start.sock');
      const dir = stagingDir(socket);
      const logFile = path.join(dir, 'sluice.log');
      const pidFile = path.join(dir, 'sluice.pid');
      const app = wrapper(dir, ['--log-file', logFile, '--pid-file', pidFile]);
      try {
        const start = await run(findBinary('cgi-fcgi')!, ['-start', '-connect', socket, app]);
        expect(start).toMatchObject({ code: 0 });
        const pid = await started(pidFile, logFile);
        // One process: the spawner is the process manager.
        expect(childrenOf(pid)).toEqual([]);
        const bind = await run(findBinary('cgi-fcgi')!, ['-bind', '-connect', socket], {
          REQUEST_METHOD: 'GET',
          REQUEST_URI: '/env?from=cgi-fcgi',
          QUERY_STRING: 'from=cgi-fcgi',
          SERVER_PROTOCOL: 'HTTP/1.1',
          SERVER_NAME: 'localhost',
          SERVER_PORT: '80',
        });
        expect(bind.code).toBe(0);
        expect(bind.stdout).toMatch(/^Status: 200 OK\r\n/);
        expect(bind.stdout).toContain('"QUERY_STRING":"from=cgi-fcgi"');
        expect(await envOf('unix:' + socket)).toMatchObject({ 'sluice.protocol': 'fastcgi' });
        await stopAndCheck(pid, logFile);
      } finally {
        cleanUp(pidFile);
      }
    },
    60_000,
  );
});

describe('spawn-fcgi', () => {
  withSpawnFcgi(
    '-n: execs sluice on the Unix socket it made, logging to its stderr',
    async () => {
      const socket = tempSocketPath('spawn-fcgi.sock');
      const daemon = await startDaemon('test/fixtures/apps/probe.mjs', [], {
        launcher: [findBinary('spawn-fcgi')!, '-n', '-s', socket, '-M', '0666', '--'],
      });
      try {
        expect(daemon.addresses.fastcgi).toEqual(['fd:0']);
        expect(fs.statSync(socket).mode & 0o777).toBe(0o666);
        for (let i = 0; i < 3; i++)
          expect(await envOf('unix:' + socket)).toMatchObject({ REQUEST_METHOD: 'GET' });
        expect(childrenOf(daemon.pid)).toEqual([]);
      } finally {
        expect(await daemon.stop()).toBe(0);
      }
    },
    60_000,
  );

  withSpawnFcgi(
    'nothing restarts a sluice killed with SIGKILL: its socket file stays and refuses connections',
    async () => {
      const socket = tempSocketPath('spawn-fcgi-killed.sock');
      const daemon = await startDaemon('test/fixtures/apps/probe.mjs', [], {
        launcher: [findBinary('spawn-fcgi')!, '-n', '-s', socket, '-M', '0666', '--'],
      });
      daemon.child.kill('SIGKILL');
      expect(await daemon.exited).toMatchObject({ signal: 'SIGKILL' });
      expect(fs.existsSync(socket)).toBe(true);
      const refused = await new Promise<string | undefined>((resolve) => {
        const connection = net.connect(socket);
        connection.once('connect', () => {
          connection.destroy();
          resolve(undefined);
        });
        connection.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
      });
      expect(refused).toBe('ECONNREFUSED');
    },
    60_000,
  );

  test.each([
    ['one process', []],
    ['--workers 2', ['--workers', '2']],
  ])(
    'forked on TCP with --log-file (its stderr is /dev/null), %s: SIGTERM leaves no process behind',
    async (_name, args) => {
      if (!requireBinary('spawn-fcgi')) return;
      const dir = stagingDir(tempSocketPath());
      const logFile = path.join(dir, 'sluice.log');
      const pidFile = path.join(dir, 'spawn-fcgi.pid');
      const port = await freePort();
      try {
        const spawned = await run(findBinary('spawn-fcgi')!, [
          ...['-a', '127.0.0.1', '-p', String(port), '-P', pidFile, '--'],
          ...[process.execPath, SLUICE_BIN, 'serve', PROBE, '--log-file', logFile, ...args],
        ]);
        expect(spawned.code).toBe(0);
        const pid = await started(pidFile, logFile);
        expect(await envOf(`127.0.0.1:${port}`)).toMatchObject({ 'sluice.protocol': 'fastcgi' });
        expect(childrenOf(pid)).toHaveLength(args.length === 0 ? 0 : 2);
        await stopAndCheck(pid, logFile);
      } finally {
        cleanUp(pidFile);
      }
    },
    60_000,
  );
});

describe('lighttpd bin-path (deploy/lighttpd/sluice-fastcgi-spawned.conf)', () => {
  const deployFile = 'deploy/lighttpd/sluice-fastcgi-spawned.conf';
  const maxProcs = Number(
    /"max-procs" => (\d+)/.exec(fs.readFileSync(path.join(REPO_ROOT, deployFile), 'utf8'))![1],
  );

  /** lighttpd spawning the staged sluice and probe app, once every copy logged "ready". */
  async function spawning(args: string[] = []) {
    // lighttpd runs the copies as its own user (www-data under root): sluice, its packages and the
    // app are staged where that user may read them.
    const staged = stage([...serveFiles(), 'test/fixtures/apps/probe.mjs']);
    const command = [
      process.execPath,
      staged.at('bin/sluice'),
      'serve',
      staged.at('test/fixtures/apps/probe.mjs'),
      ...args,
    ];
    const lighttpd = await startFrontEnd('lighttpd', deployFile, {}, { spawn: command.join(' ') });
    const logged = (msg: string): number =>
      (lighttpd.errorLog().match(new RegExp(`"msg":"${msg}"`, 'g')) ?? []).length;
    // Each copy logs "ready" on lighttpd's stderr once it serves the socket on its fd 0.
    await until(
      () => logged('ready') === maxProcs,
      15_000,
      () => lighttpd.errorLog(),
    );
    return {
      lighttpd,
      logged,
      copies: () => sluiceProcesses(staged.dir),
      async cleanUp() {
        await lighttpd.stop();
        killLeftovers(staged.dir);
        staged.remove();
      },
    };
  }

  withLighttpd(
    'spawns max-procs single-process copies; serves GET and POST through them; SIGTERM leaves none',
    async () => {
      expect(maxProcs).toBeGreaterThan(1);
      const { lighttpd, logged, copies, cleanUp } = await spawning();
      try {
        // The copies write to lighttpd's own stderr, not to its server.errorlog.
        const log = (file: string): string =>
          fs.readFileSync(path.join(lighttpd.prefix, 'logs', file), 'utf8');
        expect(log('stderr.log')).toContain('"fdName":"FCGI_LISTENSOCK_FILENO"');
        expect(log('error.log')).not.toContain('"msg"');

        const env = await fetch(`${lighttpd.baseUrl}/env?through=lighttpd`);
        expect(env.status).toBe(200);
        expect(await env.json()).toMatchObject({
          'sluice.protocol': 'fastcgi',
          QUERY_STRING: 'through=lighttpd',
          SERVER_SOFTWARE: expect.stringMatching(/^lighttpd\//) as unknown,
        });
        const body = Buffer.alloc(300_000);
        for (let i = 0; i < body.length; i++) body[i] = (i * 7) % 256;
        const posted = await fetch(`${lighttpd.baseUrl}/hash`, { method: 'POST', body });
        expect(posted.status).toBe(200);
        expect(await posted.json()).toMatchObject({
          bytes: body.length,
          sha256: createHash('sha256').update(body).digest('hex'),
          contentLength: String(body.length),
        });

        // max-procs copies, each lighttpd's child and a single process (no workers of its own).
        const running = copies();
        expect(running).toHaveLength(maxProcs);
        for (const copy of running) {
          expect(copy.ppid).toBe(lighttpd.pid);
          expect(childrenOf(copy.pid)).toEqual([]);
        }

        // Stopped by PID as its init script would: lighttpd stops its copies, which exit on their own.
        process.kill(lighttpd.pid, 'SIGTERM');
        await until(
          () => copies().length === 0 && !lighttpd.running(),
          15_000,
          () => lighttpd.errorLog(),
        );
        expect(logged('stopped')).toBe(maxProcs);
      } finally {
        await cleanUp();
      }
    },
    60_000,
  );

  withLighttpd(
    'a copy killed with SIGKILL is started again at once; requests meanwhile go to the others',
    async () => {
      const { lighttpd, logged, copies, cleanUp } = await spawning();
      try {
        const [victim] = copies();
        process.kill(victim!.pid, 'SIGKILL');
        const statuses: number[] = [];
        for (let i = 0; i < 10; i++) {
          const response = await fetch(`${lighttpd.baseUrl}/env`);
          await response.arrayBuffer();
          statuses.push(response.status);
        }
        // lighttpd found its socket refusing, disabled it for "disable-time" and used another copy.
        expect(statuses).toEqual(Array(10).fill(200));
        await until(
          () => logged('ready') === maxProcs + 1,
          15_000,
          () => lighttpd.errorLog(),
        );
        const running = copies();
        expect(running).toHaveLength(maxProcs);
        expect(running.map((copy) => copy.pid)).not.toContain(victim!.pid);
        expect(running.every((copy) => copy.ppid === lighttpd.pid)).toBe(true);
        expect(lighttpd.errorLog()).toContain('child signalled: 9');
      } finally {
        await cleanUp();
      }
    },
    60_000,
  );
  withLighttpd(
    'graceful restart (SIGUSR1): the request under way finishes, then every copy is stopped and replaced',
    async () => {
      // At debug level, each copy logs the connections it accepts.
      const { lighttpd, logged, copies, cleanUp } = await spawning(['--log-level', 'debug']);
      try {
        const before = copies().map((copy) => copy.pid);
        const slow = fetch(`${lighttpd.baseUrl}/slow?ms=1500`).then(async (r) => [r.status, await r.text()]);
        // Under way once a copy accepted lighttpd's connection for it.
        await until(
          () => logged('connection opened') === 1,
          10_000,
          () => lighttpd.errorLog(),
        );
        process.kill(lighttpd.pid, 'SIGUSR1');
        expect(await slow).toEqual([200, 'slept 1500\n']);
        await until(
          () => logged('stopped') === maxProcs && logged('ready') === 2 * maxProcs,
          20_000,
          () => lighttpd.errorLog(),
        );
        const after = copies();
        expect(after).toHaveLength(maxProcs);
        expect(after.some((copy) => before.includes(copy.pid))).toBe(false);
        expect(lighttpd.running()).toBe(true);
        expect((await fetch(`${lighttpd.baseUrl}/env`)).status).toBe(200);
        expect(lighttpd.errorLog()).toContain('graceful shutdown started');
      } finally {
        await cleanUp();
      }
    },
    60_000,
  );
});
