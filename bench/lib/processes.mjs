// Starting and stopping what the benchmarks run. Every child gets its own process group (so Ctrl-C
// reaches only the benchmark, which then stops them in order) and is stopped by PID: SIGTERM, then
// SIGKILL of its group. Also the temp prefix they all live in, and small helpers around them.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../build-info.mjs';
import { groupMembers } from './proc-stats.mjs';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const log = (message) => process.stderr.write(`[bench] ${message}\n`);

/** Full path of an executable in PATH or the sbin directories non-root PATHs lack. */
export function findBinary(name) {
  const dirs = [
    ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean),
    '/usr/local/sbin',
    '/usr/sbin',
    '/sbin',
  ];
  for (const dir of dirs) {
    const full = path.join(dir, name);
    try {
      fs.accessSync(full, fs.constants.X_OK);
      if (fs.statSync(full).isFile()) return full;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** First line of `binary args` (stdout or stderr): its version. */
export function versionOf(binary, args) {
  const r = spawnSync(binary, args, { encoding: 'utf8', timeout: 5000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0].trim();
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function settlesWithin(promise, ms) {
  let timer;
  const result = await Promise.race([
    promise.then(() => true),
    new Promise((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return result;
}

/**
 * argv run on the CPUs listed in the environment variable `variable` (taskset's syntax, "0-3,6"), or
 * unchanged when it is not set: BENCH_CPUS_NGINX, BENCH_CPUS_WRK and BENCH_CPUS_SERVERS keep nginx,
 * wrk and the servers apart on a machine with enough cores. taskset execs the command, so the PID is
 * the command's own.
 */
export function pinned(argv, variable) {
  const cpus = process.env[variable];
  return cpus ? ['taskset', '-c', cpus, ...argv] : argv;
}

const live = new Map(); // pid -> service

/** Spawns argv in its own process group, output to logFile; the service can be stopped by PID. */
export function startProcess(name, argv, { cwd = ROOT, logFile, env = process.env } = {}) {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(argv[0], argv.slice(1), { cwd, env, detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  let exitInfo;
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve((exitInfo = { code, signal })));
    child.once('error', (err) => {
      fs.appendFileSync(logFile, `spawn error: ${err.message}\n`);
      resolve((exitInfo = { code: null, signal: null, error: err.message }));
    });
  });
  const service = {
    name,
    pid: child.pid,
    exited,
    running: () => exitInfo === undefined,
    exitInfo: () => exitInfo,
    logTail(lines = 30) {
      try {
        return fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        return '(no log)';
      }
    },
    stop(timeoutMs = 5000) {
      service.stopping ??= stopService(service, timeoutMs);
      return service.stopping;
    },
  };
  if (child.pid) live.set(child.pid, service);
  return service;
}

/** Registers a child spawned elsewhere (wrk, with its output piped) so that stopAll() reaches it. */
export function track(service) {
  live.set(service.pid, service);
  service.stop = (timeoutMs = 2000) => (service.stopping ??= stopService(service, timeoutMs));
  return () => live.delete(service.pid);
}

function killGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

async function stopService(service, timeoutMs) {
  const { pid } = service;
  if (!pid) return;
  if (service.running()) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone
    }
    if (!(await settlesWithin(service.exited, timeoutMs))) {
      log(`${service.name} (pid ${pid}) ignored SIGTERM for ${timeoutMs} ms: SIGKILL`);
      killGroup(pid, 'SIGKILL');
      await settlesWithin(service.exited, 2000);
    }
  }
  // Children (nginx, PHP-FPM and uWSGI workers) leave after their master; make sure none outlives it.
  const deadline = Date.now() + timeoutMs;
  while (groupMembers(pid).length > 0 && Date.now() < deadline) await sleep(25);
  if (groupMembers(pid).length > 0) killGroup(pid, 'SIGKILL');
  live.delete(pid);
}

async function stopAll() {
  // nginx first (so it stops talking to the apps), then everything else.
  const services = [...live.values()].sort((a, b) => (a.name === 'nginx' ? -1 : b.name === 'nginx' ? 1 : 0));
  for (const service of services) await service.stop();
}

process.on('exit', () => {
  for (const pid of live.keys()) killGroup(pid, 'SIGKILL'); // last resort, synchronous
});

/**
 * The temp prefix one benchmark run lives in (logs/, tmp/, run/ for sockets), plus teardown: stop()
 * stops every child and removes the prefix unless it is to be kept (--keep, or after a failure: the
 * logs explain it). SIGINT/SIGTERM stop everything and exit 130/143.
 */
export function makePrefix(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sluice-${name}-`));
  for (const sub of ['logs', 'tmp', 'run']) fs.mkdirSync(path.join(dir, sub));
  // nginx's worker may run as www-data: it must reach the sockets in run/ and write tmp/.
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(path.join(dir, 'run'), 0o755);
  fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
  let stopping;
  const prefix = {
    dir,
    keep: false,
    interrupted: false,
    stopAll: () => (stopping ??= stopAll()),
    async finish(ok) {
      await prefix.stopAll();
      if (ok && !prefix.keep) fs.rmSync(dir, { recursive: true, force: true });
      else log(`kept ${dir} (configs and logs)`);
    },
  };
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      if (prefix.interrupted) return;
      prefix.interrupted = true;
      log(`${signal}: stopping everything`);
      prefix.stopAll().finally(() => {
        if (!prefix.keep) fs.rmSync(dir, { recursive: true, force: true });
        process.exit(signal === 'SIGINT' ? 130 : 143);
      });
    });
  }
  return prefix;
}

function canConnect(socketPath) {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts a server that listens on the Unix socket `socketPath` and waits until a connection to it
 * succeeds: the one readiness test every server here passes, whatever it logs.
 */
export async function startServer(name, argv, { socketPath, logFile, env, cwd, readyTimeoutMs = 20_000 }) {
  const service = startProcess(name, argv, { logFile, env, cwd });
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (!service.running()) {
      const info = service.exitInfo();
      throw new Error(
        `${name} exited during startup (code ${info?.code}, signal ${info?.signal})\n` +
          `command: ${argv.join(' ')}\n${service.logTail()}`,
      );
    }
    if (fs.existsSync(socketPath) && (await canConnect(socketPath))) return service;
    if (Date.now() > deadline) {
      await service.stop();
      throw new Error(
        `${name} did not listen on ${socketPath} within ${readyTimeoutMs} ms\n` +
          `command: ${argv.join(' ')}\n${service.logTail()}`,
      );
    }
    await sleep(50);
  }
}
