#!/usr/bin/env node
// End-to-end benchmark: wrk → nginx → {sluice FastCGI (kept alive / not), sluice SCGI, node:http,
// nginx itself}, all serving the same 14-byte "Hello, world!\n". See bench/README.md.
//
//   npm run bench                        # 2 s warm-up + 3 × 10 s per target, 50 connections, 1 wrk thread
//   npm run bench -- --duration 8 --runs 5 --connections 100 --threads 2
//   npm run bench -- --quick             # ~1 s per target: a smoke test of the harness itself
//
// Everything it starts (one nginx with worker_processes 1, one process per app target, wrk) runs in
// its own process group under a temp prefix, on 127.0.0.1 and Unix sockets only, and is stopped by
// PID at the end, on error and on SIGINT/SIGTERM. Results: a markdown table on stdout, plus JSON and
// markdown in bench/results/. Plain Node ESM: needs `npm run build` (dist/) but no build of its own.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machineAndBuild, newestMtime } from './build-info.mjs';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(BENCH_DIR, '..');
const RESULTS_DIR = path.join(BENCH_DIR, 'results');
const SLUICE_BIN = path.join(ROOT, 'bin', 'sluice');
const SLUICE_CLI_JS = path.join(ROOT, 'dist', 'cli.js');
const HELLO_APP = 'examples/hello.mjs';
const NODE_PEER = path.join(BENCH_DIR, 'peers', 'node-http.mjs');
const WRK_SCRIPT = path.join(BENCH_DIR, 'wrk-report.lua');
const BODY = 'Hello, world!\n';
const INSTALL_HINT = 'apt-get install nginx wrk';
const RSS_SAMPLE_MS = 200;
const PAUSE_BETWEEN_RUNS_MS = 1000;
const NOISE_LIMIT_PCT = 5; // % of the whole machine's CPU used by others (or stolen) during a run
// Extra node flags for the app processes (sluice and the node:http peer), e.g. for profiling:
//   BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench -- --only sluice-scgi
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);

// ---------------------------------------------------------------------------------------------
// Options

const USAGE = `usage: node bench/e2e.mjs [options]      (npm run bench -- [options])

  --duration S      seconds per measured run (default 10)
  --runs N          measured runs per target (default 3); median, min and max are reported
  --connections N   wrk connections (default 50)
  --threads N       wrk threads (default 1)
  --warmup S        warm-up seconds per target before the runs, not reported (default 2; 0 = none)
  --retry-noisy N   repeat a run up to N times while other processes use > 5% of the CPUs (default 2)
  --quick           smoke form: 1 run of 1 s, no warm-up (~1 s per target; explicit flags still win)
  --only LIST       comma-separated target ids to run (default: all; node-http is needed for ratios)
  --app MODULE      the app every Node target serves (default examples/hello.mjs): sluice loads it as
                    it would any app, the node-http peer takes its export as the request listener, so
                    an Express app is measured on both sides (bench/apps/express-hello.mjs)
  --keep            keep the temp prefix (configs, logs) after the run
  -h, --help        this text

Targets: sluice-fastcgi-keepalive, sluice-fastcgi, sluice-scgi, node-http, nginx-return
Environment: BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" adds node flags to the app processes.`;

function parseOptions(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        duration: { type: 'string' },
        runs: { type: 'string' },
        connections: { type: 'string' },
        threads: { type: 'string' },
        warmup: { type: 'string' },
        'retry-noisy': { type: 'string' },
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        app: { type: 'string' },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    usageError(err.message);
  }
  const v = parsed.values;
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name, fallback, min) => {
    if (v[name] === undefined) return fallback;
    if (!/^\d+$/.test(v[name]) || Number(v[name]) < min) usageError(`--${name} must be an integer >= ${min}`);
    return Number(v[name]);
  };
  const quick = v.quick;
  const options = {
    quick,
    duration: int('duration', quick ? 1 : 10, 1), // wrk only takes whole seconds
    runs: int('runs', quick ? 1 : 3, 1),
    connections: int('connections', 50, 1),
    threads: int('threads', 1, 1),
    warmup: int('warmup', quick ? 0 : 2, 0),
    retryNoisy: int('retry-noisy', quick ? 0 : 2, 0),
    only: v.only ? v.only.split(',').map((s) => s.trim()) : undefined,
    app: v.app ?? HELLO_APP,
    keep: v.keep,
  };
  if (options.threads > options.connections) usageError('--threads must not exceed --connections');
  return options;
}

function usageError(message) {
  console.error(`bench/e2e.mjs: ${message}\n\n${USAGE}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (message) => process.stderr.write(`[bench] ${message}\n`);

function findBinary(name) {
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

function freePort() {
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

/** Fields of /proc/PID/status in kB (VmRSS, VmHWM), or undefined once the process is gone. */
function memoryOf(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** utime + stime of a process in seconds (undefined once it is gone). */
function cpuSecondsOf(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // fields 14 and 15 of proc(5)
  } catch {
    return undefined;
  }
}

/** Waits (up to maxMs) for a second in which the machine is < NOISE_LIMIT_PCT busy; our apps idle. */
async function waitForQuiet(maxMs) {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    const before = systemCpu();
    await sleep(1000);
    const after = systemCpu();
    if (((after.busy - before.busy) / (after.total - before.total)) * 100 < NOISE_LIMIT_PCT) return true;
  }
  return false;
}

/** Machine-wide CPU time from /proc/stat's "cpu" line, in seconds: busy (not idle/iowait), steal, total. */
function systemCpu() {
  const fields = /^cpu\s+(.*)$/m
    .exec(fs.readFileSync('/proc/stat', 'utf8'))[1]
    .trim()
    .split(/\s+/)
    .map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already counted in user/nice)
  const [user, nice, system, idle, iowait, irq, softirq, steal = 0] = fields;
  // Interrupt time counts as busy: loopback traffic is processed in softirq context, which /proc/stat
  // books as softirq while the process it ran in is charged for it too.
  const busy = user + nice + system + irq + softirq;
  const total = busy + idle + iowait + steal;
  return { busy: busy / CLK_TCK, steal: steal / CLK_TCK, total: total / CLK_TCK };
}

/** CPU seconds of this process's children that have exited and been reaped (cutime + cstime). */
function reapedChildrenCpuSeconds() {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / CLK_TCK; // fields 16 and 17 of proc(5)
}

function procStat(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], ppid: Number(fields[1]), pgrp: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

function listPids(predicate) {
  const pids = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const st = procStat(Number(entry));
    if (st && st.state !== 'Z' && st.state !== 'X' && predicate(st)) pids.push(Number(entry));
  }
  return pids;
}

const groupMembers = (pgid) => listPids((st) => st.pgrp === pgid);

/** One GET, bounded in time: { status, headers, body } (rejects on error or timeout). */
function httpGet(port, urlPath = '/', timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: urlPath, agent: false, timeout: timeoutMs },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('latin1'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// ---------------------------------------------------------------------------------------------
// Processes: every child gets its own process group (so Ctrl-C reaches only this script, which
// then stops them in order) and is stopped by PID: SIGTERM, then SIGKILL of its group.

const live = new Map(); // pid -> service

function startProcess(name, argv, { cwd = ROOT, logFile, env = process.env, onLine } = {}) {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(argv[0], argv.slice(1), {
    cwd,
    env,
    detached: true,
    stdio: ['ignore', out, onLine ? 'pipe' : out],
  });
  fs.closeSync(out);
  let exitInfo;
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
    child.once('error', (err) => {
      exitInfo = { code: null, signal: null, error: err.message };
      fs.appendFileSync(logFile, `spawn error: ${err.message}\n`);
      resolve(exitInfo);
    });
  });
  const service = {
    name,
    pid: child.pid,
    child,
    logFile,
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
    stopping: undefined,
    stop(timeoutMs = 5000) {
      service.stopping ??= stopService(service, timeoutMs);
      return service.stopping;
    },
  };
  if (onLine) {
    let pending = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      fs.appendFileSync(logFile, chunk);
      pending += chunk;
      let newline;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        onLine(line);
      }
    });
  }
  if (child.pid) live.set(child.pid, service);
  return service;
}

async function settlesWithin(promise, ms) {
  let timer;
  const result = await Promise.race([
    promise.then(() => true),
    new Promise((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return result;
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
  // Children (nginx workers) leave after their master; make sure none outlives it.
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

let cleaningUp;
let interrupted = false;
let tempPrefix; // removed on success and on SIGINT/SIGTERM; kept on failure (logs) and with --keep
let keepPrefix = false;
function cleanup() {
  cleaningUp ??= stopAll();
  return cleaningUp;
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping everything`);
    cleanup().finally(() => {
      if (tempPrefix && !keepPrefix) fs.rmSync(tempPrefix, { recursive: true, force: true });
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Preflight

function preflight() {
  const nginx = findBinary('nginx');
  const wrk = findBinary('wrk');
  const missing = [!nginx && 'nginx', !wrk && 'wrk'].filter(Boolean);
  if (missing.length > 0) {
    throw new Error(
      `${missing.join(' and ')} not found in PATH or /usr/sbin; install with: ${INSTALL_HINT} (Debian/Ubuntu)`,
    );
  }
  if (!fs.existsSync(SLUICE_CLI_JS)) {
    throw new Error(`${path.relative(ROOT, SLUICE_CLI_JS)} is missing: run \`npm run build\` first`);
  }
  const newestSource = newestMtime(path.join(ROOT, 'src'));
  if (newestSource > fs.statSync(SLUICE_CLI_JS).mtimeMs) {
    log('WARNING: src/ is newer than dist/: this measures the last build (run `npm run build` to refresh)');
  }
  if (process.platform !== 'linux') throw new Error('this benchmark reads /proc and needs Linux');
  const paramsDir = ['/etc/nginx', '/usr/local/etc/nginx', '/usr/local/nginx/conf'].find((dir) =>
    fs.existsSync(path.join(dir, 'fastcgi_params')),
  );
  if (!paramsDir) throw new Error('nginx fastcgi_params/scgi_params not found (looked in /etc/nginx)');
  return { nginx, wrk, paramsDir };
}

function versionOf(binary, args) {
  const r = spawnSync(binary, args, { encoding: 'utf8', timeout: 5000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0].trim();
}

function machine(bins) {
  return {
    ...machineAndBuild(),
    nginx: versionOf(bins.nginx, ['-v']).replace(/^nginx version:\s*/, ''),
    wrk: versionOf(bins.wrk, ['-v']).replace(/\s+Copyright.*$/, ''),
    nodeArgs: NODE_ARGS,
  };
}

// ---------------------------------------------------------------------------------------------
// Targets and the nginx config

const TARGETS = [
  {
    id: 'sluice-fastcgi-keepalive',
    label: 'sluice FastCGI, kept alive',
    sluice: { protocol: 'fastcgi' },
    detail: 'fastcgi_pass to an upstream{} with keepalive; fastcgi_keep_conn on; Unix socket',
  },
  {
    id: 'sluice-fastcgi',
    label: 'sluice FastCGI, no keep-alive',
    sluice: { protocol: 'fastcgi' },
    detail: 'fastcgi_pass unix:… directly; one connection per request',
  },
  {
    id: 'sluice-scgi',
    label: 'sluice SCGI',
    sluice: { protocol: 'scgi' },
    detail: 'scgi_pass unix:…; SCGI is one connection per request',
  },
  {
    id: 'node-http',
    label: 'node:http (proxy_pass, kept alive)',
    peer: true,
    detail: 'proxy_pass to an upstream{} with keepalive; HTTP/1.1, Connection ""; Unix socket',
  },
  {
    id: 'nginx-return',
    label: 'nginx return 200 (ceiling)',
    detail: 'return 200 "Hello, world!\\n"; no upstream',
  },
];

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** The unprivileged user nginx workers run as when the bench runs as root (Debian's www-data). */
function runAsLine() {
  if (!isRoot()) return '# not root: the worker runs as the invoking user';
  const passwd = fs.readFileSync('/etc/passwd', 'utf8');
  const group = fs.readFileSync('/etc/group', 'utf8');
  const has = (text, name) => text.split('\n').some((line) => line.startsWith(name + ':'));
  const user = ['www-data', 'nobody'].find((u) => has(passwd, u)) ?? 'nobody';
  const grp = [user, 'nogroup', 'nobody'].find((g) => has(group, g)) ?? user;
  return `user ${user} ${grp};`;
}

function renderNginxConf({ prefix, paramsDir, targets, keepalive }) {
  const server = (target, body) =>
    `    # ${target.id}: ${target.detail}\n` +
    `    server {\n        listen 127.0.0.1:${target.port};\n        server_name _;\n${body}    }\n`;
  const blocks = [];
  const upstreams = [];
  for (const target of targets) {
    switch (target.id) {
      case 'sluice-fastcgi-keepalive':
        upstreams.push(
          `    upstream sluice_fastcgi_keepalive {\n        server unix:${target.socket};\n` +
            `        keepalive ${keepalive};\n        keepalive_requests 1000;\n        keepalive_timeout 60s;\n    }\n`,
        );
        blocks.push(
          server(
            target,
            `        location / {\n            include ${paramsDir}/fastcgi_params;\n` +
              `            fastcgi_pass sluice_fastcgi_keepalive;\n            fastcgi_keep_conn on;\n` +
              `            fastcgi_buffer_size 16k;\n            fastcgi_buffers 16 16k;\n        }\n`,
          ),
        );
        break;
      case 'sluice-fastcgi':
        blocks.push(
          server(
            target,
            `        location / {\n            include ${paramsDir}/fastcgi_params;\n` +
              `            fastcgi_pass unix:${target.socket};\n` +
              `            fastcgi_buffer_size 16k;\n            fastcgi_buffers 16 16k;\n        }\n`,
          ),
        );
        break;
      case 'sluice-scgi':
        blocks.push(
          server(
            target,
            `        location / {\n            include ${paramsDir}/scgi_params;\n` +
              `            scgi_pass unix:${target.socket};\n` +
              `            scgi_buffer_size 16k;\n            scgi_buffers 16 16k;\n        }\n`,
          ),
        );
        break;
      case 'node-http':
        upstreams.push(
          `    upstream node_http {\n        server unix:${target.socket};\n` +
            `        keepalive ${keepalive};\n        keepalive_requests 1000;\n        keepalive_timeout 60s;\n    }\n`,
        );
        blocks.push(
          server(
            target,
            `        location / {\n            proxy_pass http://node_http;\n            proxy_http_version 1.1;\n` +
              `            proxy_set_header Connection "";\n` +
              `            proxy_buffer_size 16k;\n            proxy_buffers 16 16k;\n        }\n`,
          ),
        );
        break;
      case 'nginx-return':
        blocks.push(
          server(target, `        location / {\n            return 200 "Hello, world!\\n";\n        }\n`),
        );
        break;
    }
  }
  return `# Rendered by bench/e2e.mjs; run as nginx -p ${prefix}/ -c ${prefix}/nginx.conf
daemon off;                 # foreground: the bench owns the master's PID and stops it with SIGTERM
master_process on;
# One worker, so that on a 2-core machine the other core is left to the app under test (wrk shares
# the cores with both).
worker_processes 1;
${runAsLine()}
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
worker_rlimit_nofile 16384;

events {
    worker_connections 8192;
}

http {
    sendfile on;
    tcp_nopush on;
    default_type text/plain;    # Content-Type of the ceiling's return 200, as the apps send
    access_log off;             # same for every target: measure the gateway, not log writes

    client_body_temp_path ${prefix}/tmp/client_body;
    proxy_temp_path ${prefix}/tmp/proxy;
    fastcgi_temp_path ${prefix}/tmp/fastcgi;
    scgi_temp_path ${prefix}/tmp/scgi;
    uwsgi_temp_path ${prefix}/tmp/uwsgi;

${upstreams.join('\n')}
${blocks.join('\n')}}
`;
}

// ---------------------------------------------------------------------------------------------
// Starting things

async function startWithReady(name, argv, logFile, readyTimeoutMs = 20_000) {
  let ready;
  const isReady = new Promise((resolve) => (ready = resolve));
  const env = { ...process.env };
  delete env.FCGI_WEB_SERVER_ADDRS; // never filter nginx out
  const service = startProcess(name, argv, {
    logFile,
    env,
    onLine(line) {
      try {
        if (JSON.parse(line).msg === 'ready') ready();
      } catch {
        // not JSON
      }
    },
  });
  const outcome = await Promise.race([
    isReady.then(() => 'ready'),
    service.exited.then(() => 'exited'),
    sleep(readyTimeoutMs).then(() => 'timeout'),
  ]);
  if (outcome !== 'ready') {
    const info = service.exitInfo();
    await service.stop();
    throw new Error(
      `${name} ${outcome === 'exited' ? `exited during startup (code ${info?.code}, signal ${info?.signal})` : `was not ready within ${readyTimeoutMs} ms`}\n` +
        `command: ${argv.join(' ')}\n${service.logTail()}`,
    );
  }
  return service;
}

async function startApps(targets, prefix, app) {
  for (const target of targets) {
    if (!target.sluice && !target.peer) continue;
    target.socket = path.join(prefix, 'run', `${target.id}.sock`);
    const logFile = path.join(prefix, 'logs', `${target.id}.log`);
    const argv = target.sluice
      ? [
          process.execPath,
          ...NODE_ARGS,
          SLUICE_BIN,
          'serve',
          app,
          `--${target.sluice.protocol}`,
          `unix:${target.socket}`,
          '--socket-mode',
          '0666',
          '--no-pretty',
          '--log-level',
          'info',
        ]
      : [
          process.execPath,
          ...NODE_ARGS,
          NODE_PEER,
          `unix:${target.socket}`,
          ...(app === HELLO_APP ? [] : [app]),
        ];
    target.app = await startWithReady(target.id, argv, logFile);
    target.servingPid = target.app.pid;
    target.command = argv.map((a) => a.split(ROOT + path.sep).join('')).join(' ');
    log(`${target.id}: pid ${target.app.pid}, ${target.socket}`);
  }
}

async function startNginx(bins, prefix, targets, keepalive) {
  const configFile = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(configFile, renderNginxConf({ prefix, paramsDir: bins.paramsDir, targets, keepalive }));
  const args = ['-p', prefix + '/', '-c', configFile, '-e', path.join(prefix, 'logs', 'error.log')];
  const test = spawnSync(bins.nginx, [...args, '-t'], { encoding: 'utf8', timeout: 10_000 });
  if (test.status !== 0) {
    throw new Error(`nginx -t rejected ${configFile}:\n${test.stderr}${test.stdout}`);
  }
  const nginx = startProcess('nginx', [bins.nginx, ...args], {
    cwd: prefix,
    logFile: path.join(prefix, 'logs', 'nginx.out'),
  });
  // Ready when every server block answers; the first answers are also the correctness check.
  const deadline = Date.now() + 10_000;
  for (const target of targets) {
    for (;;) {
      if (!nginx.running()) {
        throw new Error(
          `nginx exited during startup\n${fs.readFileSync(path.join(prefix, 'logs', 'error.log'), 'utf8')}`,
        );
      }
      try {
        target.check = await httpGet(target.port);
        break;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`nginx did not answer on 127.0.0.1:${target.port}: ${err.message}`, { cause: err });
        await sleep(50);
      }
    }
  }
  const workers = listPids((st) => st.ppid === nginx.pid);
  if (workers.length !== 1) throw new Error(`expected 1 nginx worker, found ${workers.length}`);
  nginx.workerPid = workers[0];
  return nginx;
}

function checkResponses(targets, prefix) {
  for (const target of targets) {
    const { status, body, headers } = target.check;
    if (status !== 200 || body !== BODY) {
      throw new Error(
        `${target.id}: GET / answered ${status} ${JSON.stringify(body.slice(0, 200))}, want 200 ${JSON.stringify(BODY)}\n` +
          `nginx error log:\n${fs.readFileSync(path.join(prefix, 'logs', 'error.log'), 'utf8')}` +
          (target.app ? `\n${target.id} log:\n${target.app.logTail()}` : ''),
      );
    }
    target.responseHead = {
      'content-type': headers['content-type'],
      'content-length': headers['content-length'],
      'transfer-encoding': headers['transfer-encoding'],
    };
  }
}

// ---------------------------------------------------------------------------------------------
// wrk

async function runWrk(bins, options, target, seconds, nginxWorkerPid) {
  const url = `http://127.0.0.1:${target.port}/`;
  const args = [
    '-t',
    String(options.threads),
    '-c',
    String(options.connections),
    '-d',
    `${seconds}s`,
    '--latency',
    '-s',
    WRK_SCRIPT,
    url,
  ];
  let stdout = '';
  let stderr = '';
  const reaped0 = reapedChildrenCpuSeconds();
  const child = spawn(bins.wrk, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const service = {
    name: 'wrk',
    pid: child.pid,
    running: () => child.exitCode === null && child.signalCode === null,
    exited: new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal }))),
  };
  service.stop = () => (service.stopping ??= stopService(service, 2000));
  live.set(child.pid, service);
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));

  const cpu0 = { app: cpuSecondsOf(target.servingPid), nginx: cpuSecondsOf(nginxWorkerPid) };
  const system0 = systemCpu();
  const self0 = process.cpuUsage();
  let peakRssKb = 0;
  let wrkCpuSampled = 0; // fallback: the last sample before wrk exits, short by up to one interval
  const sample = () => {
    const mem = memoryOf(target.servingPid);
    if (mem) peakRssKb = Math.max(peakRssKb, mem.rssKb);
    wrkCpuSampled = cpuSecondsOf(child.pid) ?? wrkCpuSampled;
  };
  sample();
  const sampler = setInterval(sample, RSS_SAMPLE_MS);
  const limitMs = (seconds + 30) * 1000;
  const finished = await settlesWithin(service.exited, limitMs);
  clearInterval(sampler);
  sample();
  const cpu1 = { app: cpuSecondsOf(target.servingPid), nginx: cpuSecondsOf(nginxWorkerPid) };
  const system1 = systemCpu();
  const self = process.cpuUsage(self0);
  if (!finished) {
    await service.stop();
    throw new Error(`wrk against ${target.id} did not finish within ${limitMs / 1000} s`);
  }
  live.delete(child.pid);
  const { code } = await service.exited;
  // wrk is the only child that exits during a run, so the growth of our children's CPU is exactly its.
  const wrkCpuReaped = reapedChildrenCpuSeconds() - reaped0;
  const wrkCpu = wrkCpuReaped > 0 ? wrkCpuReaped : wrkCpuSampled;
  const line = stdout.split('\n').find((l) => l.startsWith('@@WRK-JSON '));
  if (code !== 0 || !line) {
    throw new Error(
      `wrk ${args.join(' ')} failed (exit ${code})${line ? '' : ' or printed no @@WRK-JSON line (wrk without Lua?)'}\n${stdout}${stderr}`,
    );
  }
  const raw = JSON.parse(line.slice('@@WRK-JSON '.length));
  const e = raw.errors;
  const server = cpu1.app !== undefined && cpu0.app !== undefined ? cpu1.app - cpu0.app : undefined;
  const nginxWorker =
    cpu1.nginx !== undefined && cpu0.nginx !== undefined ? cpu1.nginx - cpu0.nginx : undefined;
  const wall = system1.total - system0.total; // core-seconds that passed
  const busy = system1.busy - system0.busy;
  const ours =
    (server ?? 0) +
    (target.id === 'nginx-return' ? 0 : (nginxWorker ?? 0)) +
    wrkCpu +
    (self.user + self.system) / 1e6;
  return {
    seconds,
    requests: raw.requests,
    rps: raw.requests / (raw.duration_us / 1e6),
    latencyUs: raw.latency_us,
    non2xx: e.status, // wrk counts responses with status > 399 ("Non-2xx or 3xx responses")
    socketErrors: { connect: e.connect, read: e.read, write: e.write, timeout: e.timeout },
    socketErrorTotal: e.connect + e.read + e.write + e.timeout,
    peakRssKb,
    cpuSeconds: { server, nginxWorker, wrk: wrkCpu },
    // Machine-wide, over the run: how busy all CPUs were, the hypervisor's steal, and CPU used by
    // processes other than this benchmark's (noise: other jobs on the machine).
    machineCpu: {
      busyPct: (busy / wall) * 100,
      stealPct: ((system1.steal - system0.steal) / wall) * 100,
      ownPct: (ours / wall) * 100,
      otherPct: (Math.max(0, busy - ours) / wall) * 100,
    },
    wrkText: stdout.replace(/^@@WRK-JSON .*\n?/m, '').trimEnd(),
  };
}

// ---------------------------------------------------------------------------------------------
// Summaries and output

function summarize(target) {
  const runs = target.runs;
  const rps = runs.map((r) => r.rps);
  const totalRequests = runs.reduce((n, r) => n + r.requests, 0);
  const serverCpu = runs.reduce((n, r) => n + (r.cpuSeconds.server ?? NaN), 0);
  const nginxCpu = runs.reduce((n, r) => n + (r.cpuSeconds.nginxWorker ?? NaN), 0);
  const hwm = memoryOf(target.servingPid);
  return {
    rps: { median: median(rps), min: Math.min(...rps), max: Math.max(...rps) },
    latencyUs: {
      p50: median(runs.map((r) => r.latencyUs.p50)),
      p99: median(runs.map((r) => r.latencyUs.p99)),
    },
    requests: totalRequests,
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    socketErrors: runs.reduce((n, r) => n + r.socketErrorTotal, 0),
    idleRssKb: target.idleRssKb,
    peakRssKb: Math.max(target.warmupPeakRssKb ?? 0, ...runs.map((r) => r.peakRssKb)),
    vmHwmKb: hwm?.hwmKb,
    discardedNoisyRuns: target.discarded.length,
    otherCpuPctMax: Math.max(...runs.map((r) => r.machineCpu.otherPct)),
    stealPctMax: Math.max(...runs.map((r) => r.machineCpu.stealPct)),
    cpuUsPerRequest: {
      server: (serverCpu / totalRequests) * 1e6,
      nginxWorker: (nginxCpu / totalRequests) * 1e6,
    },
  };
}

const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
const fmtMs = (us) => `${(us / 1000).toFixed(2)} ms`;
const fmtMiB = (kb) => (Number.isFinite(kb) ? `${(kb / 1024).toFixed(1)} MiB` : 'n/a');
const fmtRatio = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : 'n/a');

function markdownTable(targets) {
  const ceiling = targets.find((t) => t.id === 'nginx-return')?.summary.rps.median;
  const rows = [
    '| target | req/s (median) | min–max | % of ceiling | p50 | p99 | non-2xx/3xx | socket errors | idle RSS | peak RSS | server CPU/req |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const t of targets) {
    const s = t.summary;
    rows.push(
      `| ${t.label} | ${fmtInt(s.rps.median)} | ${fmtInt(s.rps.min)}–${fmtInt(s.rps.max)} | ` +
        `${ceiling ? `${Math.round((s.rps.median / ceiling) * 100)}%` : 'n/a'} | ${fmtMs(s.latencyUs.p50)} | ` +
        `${fmtMs(s.latencyUs.p99)} | ${s.non2xx} | ${s.socketErrors} | ${fmtMiB(s.idleRssKb)} | ${fmtMiB(s.peakRssKb)} | ` +
        `${Number.isFinite(s.cpuUsPerRequest.server) ? `${s.cpuUsPerRequest.server.toFixed(1)} µs` : 'n/a'} |`,
    );
  }
  return rows.join('\n');
}

function ratios(targets) {
  const node = targets.find((t) => t.id === 'node-http');
  if (!node) return [];
  return targets
    .filter((t) => t.sluice)
    .map((t) => ({
      id: t.id,
      label: t.label,
      rps: t.summary.rps.median / node.summary.rps.median,
      p50: t.summary.latencyUs.p50 / node.summary.latencyUs.p50,
      p99: t.summary.latencyUs.p99 / node.summary.latencyUs.p99,
      peakRss: t.summary.peakRssKb / node.summary.peakRssKb,
      serverCpuPerRequest: t.summary.cpuUsPerRequest.server / node.summary.cpuUsPerRequest.server,
    }));
}

function markdownRatios(list) {
  if (list.length === 0) return '_(node-http was not run: no ratios)_';
  const rows = [
    '| sluice target ÷ node:http | req/s | p50 | p99 | peak RSS | server CPU/req |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of list) {
    rows.push(
      `| ${r.label} | ${fmtRatio(r.rps)} | ${fmtRatio(r.p50)} | ${fmtRatio(r.p99)} | ${fmtRatio(r.peakRss)} | ${fmtRatio(r.serverCpuPerRequest)} |`,
    );
  }
  return rows.join('\n');
}

function noiseLine(targets) {
  const other = Math.max(...targets.map((t) => t.summary.otherCpuPctMax));
  const steal = Math.max(...targets.map((t) => t.summary.stealPctMax));
  const discarded = targets.reduce((n, t) => n + t.summary.discardedNoisyRuns, 0);
  return (
    `Noise: in the worst reported run, processes outside the benchmark used ${other.toFixed(1)}% of the machine's CPU ` +
    `and the hypervisor stole ${steal.toFixed(1)}%; ${discarded} run(s) with more than ${NOISE_LIMIT_PCT}% were discarded and repeated.`
  );
}

function markdownReport(result) {
  const m = result.machine;
  const o = result.options;
  return `# sluice end-to-end benchmark, ${result.date}

Machine: ${m.nproc} CPUs (${m.cpu}), ${m.memGiB} GiB RAM, ${m.kernel}; node ${m.node}, ${m.nginx}, ${m.wrk}; CPU ${m.busyPctBeforeStart}% busy in the second before the start; sluice ${m.gitCommit ?? '?'}${m.gitDirty ? ' + uncommitted changes in src/' : ''} (dist/ built ${m.distBuiltAt}, sha256 ${m.distSha256}).

Settings: wrk -t${o.threads} -c${o.connections} -d${o.duration}s --latency, ${o.runs} run(s) per target after ${o.warmup} s warm-up, runs interleaved round-robin; nginx worker_processes 1, access_log off, upstream keepalive ${result.upstreamKeepalive}; every app is one process on a Unix socket serving ${o.app}; body "Hello, world!\\n" (14 bytes).${o.quick ? ' **Quick smoke run: not a measurement.**' : ''}

${markdownTable(result.targets)}

Ratios (median req/s, median p50/p99, peak RSS, server CPU per request):

${markdownRatios(result.ratios)}

${noiseLine(result.targets)}

p50/p99: median over the runs of wrk's per-run percentiles. Peak RSS: highest VmRSS of the serving process
(the app; for the ceiling, the nginx worker) sampled every ${RSS_SAMPLE_MS} ms while that target was loaded.
Idle RSS: after one request, before the warm-up. Server CPU/req: user+system CPU time of that process during the
measured runs ÷ requests.
`;
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const bins = preflight();
  let targets = TARGETS.map((t) => ({ ...t }));
  if (options.only) {
    const unknown = options.only.filter((id) => !TARGETS.some((t) => t.id === id));
    if (unknown.length > 0) usageError(`unknown target(s): ${unknown.join(', ')}`);
    targets = targets.filter((t) => options.only.includes(t.id));
  }
  // Enough idle upstream connections for every wrk connection: none is closed for lack of a slot.
  const upstreamKeepalive = Math.max(16, options.connections);
  const info = machine(bins);
  const started = new Date();

  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-'));
  tempPrefix = prefix;
  keepPrefix = options.keep;
  for (const dir of ['logs', 'tmp', 'run']) fs.mkdirSync(path.join(prefix, dir));
  // nginx's worker may run as www-data: it must reach the sockets in run/.
  fs.chmodSync(prefix, 0o755);
  fs.chmodSync(path.join(prefix, 'run'), 0o755);
  fs.chmodSync(path.join(prefix, 'tmp'), 0o1777);
  let ok = false;

  const perTarget = options.warmup + options.runs * (options.duration + PAUSE_BETWEEN_RUNS_MS / 1000);
  const worstPerTarget = options.warmup + options.runs * (1 + options.retryNoisy) * (options.duration + 31);
  const budgetS = Math.ceil(targets.length * (worstPerTarget + 35 * (options.runs + 1)) + 120);
  const watchdog = setTimeout(() => {
    log(`watchdog: the whole benchmark exceeded ${budgetS} s; stopping everything`);
    cleanup().finally(() => process.exit(1));
  }, budgetS * 1000);
  watchdog.unref();

  try {
    log(
      `machine: ${info.nproc} CPUs, node ${info.node}, ${info.nginx}; ` +
        `wrk -t${options.threads} -c${options.connections}, warm-up ${options.warmup} s, ` +
        `${options.runs} × ${options.duration} s per target; prefix ${prefix}`,
    );
    // Quiet machine? (The load average lags by minutes, so measure the last second instead.)
    const before = systemCpu();
    await sleep(1000);
    const after = systemCpu();
    info.busyPctBeforeStart =
      Math.round(((after.busy - before.busy) / (after.total - before.total)) * 1000) / 10;
    if (info.busyPctBeforeStart > 10) {
      log(
        `WARNING: the CPUs were ${info.busyPctBeforeStart}% busy before the start: something else is running`,
      );
    }
    log(`estimated time: ~${Math.ceil(targets.length * perTarget + 5)} s`);
    for (const target of targets) target.port = await freePort();
    await startApps(targets, prefix, options.app);
    const nginx = await startNginx(bins, prefix, targets, upstreamKeepalive);
    log(`nginx: master pid ${nginx.pid}, worker pid ${nginx.workerPid}`);
    for (const target of targets) {
      if (target.id === 'nginx-return') target.servingPid = nginx.workerPid;
      target.runs = [];
      target.discarded = [];
    }
    checkResponses(targets, prefix);
    for (const target of targets) target.idleRssKb = memoryOf(target.servingPid)?.rssKb;

    const ensureAlive = (target) => {
      if (!nginx.running()) throw new Error(`nginx died:\n${nginx.logTail()}`);
      if (target.app && !target.app.running()) {
        throw new Error(`${target.id} (pid ${target.app.pid}) died:\n${target.app.logTail()}`);
      }
    };

    if (options.warmup > 0) {
      for (const target of targets) {
        log(`${target.id}: warm-up ${options.warmup} s`);
        const warm = await runWrk(bins, options, target, options.warmup, nginx.workerPid);
        target.warmup = { rps: warm.rps, non2xx: warm.non2xx, socketErrors: warm.socketErrorTotal };
        target.warmupPeakRssKb = warm.peakRssKb;
        ensureAlive(target);
        await sleep(PAUSE_BETWEEN_RUNS_MS);
      }
    }
    // Round-robin: run i of every target before run i+1, so drift spreads over all targets.
    // A run during which other processes (or the hypervisor) took more than NOISE_LIMIT_PCT of the
    // machine is discarded and repeated, up to --retry-noisy times, after waiting for a quiet moment.
    for (let i = 0; i < options.runs; i++) {
      for (const target of targets) {
        for (let attempt = 0; ; attempt++) {
          const run = await runWrk(bins, options, target, options.duration, nginx.workerPid);
          ensureAlive(target);
          run.noisy = run.machineCpu.otherPct > NOISE_LIMIT_PCT || run.machineCpu.stealPct > NOISE_LIMIT_PCT;
          const retry = run.noisy && attempt < options.retryNoisy;
          log(
            `${target.id}: run ${i + 1}/${options.runs}: ${fmtInt(run.rps)} req/s, p50 ${fmtMs(run.latencyUs.p50)}, ` +
              `p99 ${fmtMs(run.latencyUs.p99)}, non-2xx ${run.non2xx}, socket errors ${run.socketErrorTotal}; ` +
              `machine busy ${run.machineCpu.busyPct.toFixed(0)}%, other processes ${run.machineCpu.otherPct.toFixed(1)}%, ` +
              `steal ${run.machineCpu.stealPct.toFixed(1)}%${retry ? ' -> noisy: discarded, repeating' : run.noisy ? ' (noisy, kept)' : ''}`,
          );
          if (retry) {
            target.discarded.push(run);
            await waitForQuiet(30_000);
            continue;
          }
          target.runs.push(run);
          break;
        }
        await sleep(PAUSE_BETWEEN_RUNS_MS);
      }
    }
    for (const target of targets) target.summary = summarize(target);
    const nginxErrors = fs.readFileSync(path.join(prefix, 'logs', 'error.log'), 'utf8').trim();

    const result = {
      date: started.toISOString(),
      machine: info,
      options: { ...options, only: options.only ?? null, keep: undefined },
      upstreamKeepalive,
      nginxWorkerProcesses: 1,
      nginxConf: fs.readFileSync(path.join(prefix, 'nginx.conf'), 'utf8'),
      nginxErrorLog: nginxErrors,
      ratios: ratios(targets),
      targets: targets.map((t) => ({
        id: t.id,
        label: t.label,
        detail: t.detail,
        command: t.command ?? null,
        responseHead: t.responseHead,
        warmup: t.warmup ?? null,
        summary: t.summary,
        runs: t.runs,
        discardedNoisyRuns: t.discarded,
      })),
    };

    const markdown = markdownReport(result);
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    const stamp = started.toISOString().replace(/[:]/g, '').replace(/\..*$/, '').replace('T', '-');
    const base = path.join(RESULTS_DIR, `e2e-${stamp}${options.quick ? '-quick' : ''}`);
    fs.writeFileSync(`${base}.json`, JSON.stringify(result, null, 2) + '\n');
    fs.writeFileSync(`${base}.md`, markdown);

    console.log('\n' + markdown);
    if (nginxErrors)
      log(
        `nginx error log was not empty (kept in the JSON):\n${nginxErrors.split('\n').slice(-10).join('\n')}`,
      );
    log(noiseLine(result.targets));
    const noisy = result.targets.filter(
      (t) => t.summary.otherCpuPctMax > NOISE_LIMIT_PCT || t.summary.stealPctMax > NOISE_LIMIT_PCT,
    );
    if (noisy.length > 0)
      log(`WARNING: other load on the machine during ${noisy.map((t) => t.id).join(', ')}`);
    const errors = result.targets.filter((t) => t.summary.non2xx > 0 || t.summary.socketErrors > 0);
    if (errors.length > 0) log(`WARNING: errors during the runs of ${errors.map((t) => t.id).join(', ')}`);
    log(`wrote ${path.relative(ROOT, base)}.json and .md`);
    ok = true;
  } finally {
    await cleanup();
    clearTimeout(watchdog);
    if (ok && !options.keep) fs.rmSync(prefix, { recursive: true, force: true });
    else log(`kept ${prefix} (configs and logs)`);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    if (interrupted) return; // the signal handler exits once everything is stopped
    console.error(`bench/e2e.mjs: ${err.message}`);
    process.exit(1);
  },
);
