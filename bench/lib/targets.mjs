// Every server the e2e benchmark can put behind nginx: how to tell whether it is installed, how to
// start it on a Unix socket in the temp prefix, and the nginx location that reaches it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../build-info.mjs';
import { HELLO } from './routes.mjs';
import { keepaliveUpstream, unprivilegedUser } from './nginx.mjs';
import { findBinary, log, pinned, startServer } from './processes.mjs';

const BENCH_DIR = path.join(ROOT, 'bench');
const SLUICE_BIN = path.join(ROOT, 'bin', 'sluice');
const GATEWAY_APP = 'bench/apps/gateway.mjs';
const PEERS = path.join(BENCH_DIR, 'peers');
const UWSGI_PLUGIN = '/usr/lib/uwsgi/plugins/python3_plugin.so';
// Processes of the PHP-FPM and uWSGI pools: uWSGI's 4-process SCGI mode is the reference the issue
// names, and PHP-FPM gets the same number of workers.
export const POOL_PROCESSES = 4;

// Extra node flags for the Node processes (sluice and the Node peers), e.g. for profiling:
//   BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench -- --only sluice-scgi
export const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);

/**
 * One process, as the node:http peer is, and as the memory benchmark samples it; the
 * sluice-workers-N targets measure the primary/worker split.
 */
function singleProcess(bin) {
  return sluiceHasWorkers(bin) ? ['--workers', '0'] : [];
}

/**
 * The command line of a sluice serving `app` (default: the benchmark app) on one Unix socket; `bin`:
 * the bin/sluice of another checkout (e2e's --baseline), by default this one's.
 */
export function sluiceArgv(protocol, socket, extra, app = GATEWAY_APP, bin = SLUICE_BIN) {
  return [
    process.execPath,
    ...NODE_ARGS,
    bin,
    'serve',
    app,
    `--${protocol}`,
    `unix:${socket}`,
    '--socket-mode',
    '0666',
    '--no-pretty',
    '--log-level',
    'info',
    ...(extra ?? singleProcess(bin)),
  ];
}

/** Environment of the servers: never let an inherited FCGI_WEB_SERVER_ADDRS filter nginx out. */
export function serverEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  delete env.FCGI_WEB_SERVER_ADDRS;
  return env;
}

const workersOption = new Map(); // bin/sluice -> whether it has --workers
/** Whether this build of sluice (or the one of `bin`) has a --workers option (multi-process serving). */
function sluiceHasWorkers(bin = SLUICE_BIN) {
  if (!workersOption.has(bin)) {
    const help = spawnSync(process.execPath, [bin, 'serve', '--help'], { encoding: 'utf8', timeout: 10_000 });
    workersOption.set(bin, /--workers\b/.test(help.stdout ?? ''));
  }
  return workersOption.get(bin);
}

function findPhpFpm() {
  const named = findBinary('php-fpm');
  if (named) return named;
  const versioned = fs.existsSync('/usr/sbin')
    ? fs
        .readdirSync('/usr/sbin')
        .filter((f) => /^php-fpm\d/.test(f))
        .sort()
    : [];
  return versioned.length > 0 ? path.join('/usr/sbin', versioned.at(-1)) : undefined;
}

// ---------------------------------------------------------------------------------------------
// nginx locations: one per way of reaching an upstream

const fastcgiBuffers = `            fastcgi_buffer_size 16k;\n            fastcgi_buffers 16 16k;\n`;

function fastcgiKeptAlive(ctx, extra = '') {
  const name = ctx.id.replace(/-/g, '_');
  return {
    upstream: keepaliveUpstream(name, ctx.socket, ctx.keepalive),
    locations:
      `        location / {\n            include ${ctx.paramsDir}/fastcgi_params;\n${extra}` +
      `            fastcgi_pass ${name};\n            fastcgi_keep_conn on;\n${fastcgiBuffers}        }\n`,
  };
}

const fastcgiPerRequest = (ctx) => ({
  locations:
    `        location / {\n            include ${ctx.paramsDir}/fastcgi_params;\n` +
    `            fastcgi_pass unix:${ctx.socket};\n${fastcgiBuffers}        }\n`,
});

const scgi = (ctx) => ({
  locations:
    `        location / {\n            include ${ctx.paramsDir}/scgi_params;\n` +
    `            scgi_pass unix:${ctx.socket};\n` +
    `            scgi_buffer_size 16k;\n            scgi_buffers 16 16k;\n        }\n`,
});

function httpKeptAlive(ctx) {
  const name = ctx.id.replace(/-/g, '_');
  return {
    upstream: keepaliveUpstream(name, ctx.socket, ctx.keepalive),
    locations:
      `        location / {\n            proxy_pass http://${name};\n            proxy_http_version 1.1;\n` +
      `            proxy_set_header Connection "";\n` +
      `            proxy_buffer_size 16k;\n            proxy_buffers 16 16k;\n        }\n`,
  };
}

// ---------------------------------------------------------------------------------------------
// Starting the servers: ctx = { id, socket, prefix, logFile, app, sluiceBin }; `app` is a module of
// e2e's --app, served by sluice and by the node:http peer instead of the benchmark routes;
// `sluiceBin` the bin/sluice of a baseline build (see onBaseline).

const startSluice = (protocol, extra) => (ctx) =>
  startServer(
    ctx.id,
    pinned(sluiceArgv(protocol, ctx.socket, extra, ctx.app, ctx.sluiceBin), 'BENCH_CPUS_SERVERS'),
    {
      socketPath: ctx.socket,
      logFile: ctx.logFile,
      env: serverEnv(),
    },
  );

const startNodePeer = (file) => (ctx) =>
  startServer(
    ctx.id,
    pinned(
      [
        process.execPath,
        ...NODE_ARGS,
        path.join(PEERS, file),
        `unix:${ctx.socket}`,
        ...(ctx.app !== undefined && file === 'node-http.mjs' ? [ctx.app] : []),
      ],
      'BENCH_CPUS_SERVERS',
    ),
    { socketPath: ctx.socket, logFile: ctx.logFile, env: serverEnv() },
  );

function startPhpFpm(ctx) {
  // The script is copied into the prefix: the pool's user (www-data as root) may not read the checkout.
  const script = path.join(ctx.prefix, 'app.php');
  fs.copyFileSync(path.join(PEERS, 'php', 'app.php'), script);
  fs.chmodSync(script, 0o644);
  const user = unprivilegedUser();
  const config = path.join(ctx.prefix, 'php-fpm.conf');
  fs.writeFileSync(
    config,
    `; Rendered by bench/lib/targets.mjs
[global]
pid = ${ctx.prefix}/run/php-fpm.pid
error_log = ${ctx.prefix}/logs/php-fpm-error.log
daemonize = no

[bench]
${user ? `user = ${user.user}\ngroup = ${user.group}` : '; not root: the pool runs as the invoking user'}
listen = ${ctx.socket}
listen.mode = 0666
listen.backlog = 4096
pm = static
pm.max_children = ${POOL_PROCESSES}
; php://input then streams the body as it arrives instead of PHP reading it all first
php_admin_flag[enable_post_data_reading] = off
`,
  );
  return startServer(ctx.id, [findPhpFpm(), '--nodaemonize', '--fpm-config', config], {
    socketPath: ctx.socket,
    logFile: ctx.logFile,
  });
}

function startGoFcgi(ctx) {
  const binary = path.join(ctx.prefix, 'go-fcgi');
  const started = Date.now();
  const env = { ...process.env, CGO_ENABLED: '0' };
  if (!env.HOME && !env.GOCACHE) env.GOCACHE = path.join(ctx.prefix, 'tmp', 'go-cache');
  const build = spawnSync(findBinary('go'), ['build', '-o', binary, 'main.go'], {
    cwd: path.join(PEERS, 'go-fcgi'),
    env,
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (build.status !== 0) throw new Error(`go build of bench/peers/go-fcgi failed:\n${build.stderr}`);
  log(`go-fcgi: built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return startServer(ctx.id, [binary, `unix:${ctx.socket}`], {
    socketPath: ctx.socket,
    logFile: ctx.logFile,
  });
}

function startUwsgi(ctx) {
  const argv = [
    findBinary('uwsgi'),
    '--plugin',
    'python3',
    '--scgi-socket',
    ctx.socket,
    '--chmod-socket=666',
    '--master',
    '--processes',
    String(POOL_PROCESSES),
    '--wsgi-file',
    path.join(PEERS, 'uwsgi', 'app.py'),
    '--need-app',
    '--disable-logging', // no line per request, like access_log off
    '--die-on-term', // SIGTERM stops it (uWSGI 2.0 would otherwise reload)
  ];
  return startServer(ctx.id, argv, { socketPath: ctx.socket, logFile: ctx.logFile });
}

// ---------------------------------------------------------------------------------------------
// The targets, in the order of the tables

const ALL_ROUTES = undefined; // serves every route of bench/lib/routes.mjs
const HELLO_ONLY = ['hello'];

const missing = (test, hint) => (test() ? undefined : `not installed: ${hint}`);

export const TARGETS = [
  {
    id: 'sluice-fastcgi-keepalive',
    label: 'sluice FastCGI, kept alive',
    kind: 'sluice',
    protocol: 'fastcgi',
    detail: 'fastcgi_pass to an upstream{} with keepalive; fastcgi_keep_conn on',
    start: startSluice('fastcgi'),
    nginx: fastcgiKeptAlive,
  },
  {
    id: 'sluice-fastcgi',
    label: 'sluice FastCGI, no keep-alive',
    kind: 'sluice',
    protocol: 'fastcgi',
    detail: 'fastcgi_pass unix:… directly; one connection per request',
    start: startSluice('fastcgi'),
    nginx: fastcgiPerRequest,
  },
  {
    id: 'sluice-scgi',
    label: 'sluice SCGI',
    kind: 'sluice',
    protocol: 'scgi',
    detail: 'scgi_pass unix:…; SCGI is one connection per request',
    start: startSluice('scgi'),
    nginx: scgi,
  },
  ...[1, 2].map((workers) => ({
    id: `sluice-workers-${workers}`,
    label: `sluice FastCGI, kept alive, --workers ${workers}`,
    kind: 'sluice',
    protocol: 'fastcgi',
    detail: `as sluice-fastcgi-keepalive, sluice started with --workers ${workers}`,
    unavailable: (bin) => (sluiceHasWorkers(bin) ? undefined : 'this sluice has no --workers option'),
    start: startSluice('fastcgi', ['--workers', String(workers)]),
    nginx: fastcgiKeptAlive,
  })),
  {
    id: 'node-http',
    label: 'node:http (proxy_pass, kept alive)',
    kind: 'peer',
    protocol: 'http',
    detail: 'proxy_pass to an upstream{} with keepalive; HTTP/1.1, Connection ""',
    start: startNodePeer('node-http.mjs'),
    nginx: httpKeptAlive,
  },
  {
    id: 'node-fastcgi',
    label: 'node-fastcgi (npm), no keep-alive',
    kind: 'peer',
    protocol: 'fastcgi',
    // Kept alive, node-fastcgi 2.0 resets most connections (EPIPE writing END_REQUEST; nginx logs
    // "Connection reset by peer" and retries the request on another one) and serves a third as much.
    detail: 'the node-fastcgi package; fastcgi_pass unix:… directly (its kept-alive connections get reset)',
    unavailable: () =>
      missing(
        () => fs.existsSync(path.join(ROOT, 'node_modules', 'node-fastcgi')),
        'npm ci (a devDependency)',
      ),
    start: startNodePeer('node-fastcgi.mjs'),
    nginx: fastcgiPerRequest,
  },
  {
    id: 'php-fpm',
    label: `PHP-FPM (${POOL_PROCESSES} workers), kept alive`,
    kind: 'peer',
    protocol: 'fastcgi',
    detail: `php-fpm, pm static with ${POOL_PROCESSES} children; fastcgi_pass to a kept-alive upstream{}`,
    unavailable: () => missing(findPhpFpm, 'apt-get install php-fpm'),
    start: startPhpFpm,
    nginx: (ctx) =>
      fastcgiKeptAlive(
        ctx,
        `            fastcgi_param SCRIPT_FILENAME ${path.join(ctx.prefix, 'app.php')};\n`,
      ),
  },
  {
    id: 'go-fcgi',
    label: 'Go net/http/fcgi, kept alive',
    kind: 'peer',
    protocol: 'fastcgi',
    detail: 'bench/peers/go-fcgi built with go build; fastcgi_pass to a kept-alive upstream{}',
    unavailable: () => missing(() => findBinary('go'), 'apt-get install golang-go'),
    start: startGoFcgi,
    nginx: fastcgiKeptAlive,
  },
  {
    id: 'uwsgi-scgi',
    label: `uWSGI SCGI (python3, ${POOL_PROCESSES} processes)`,
    kind: 'peer',
    protocol: 'scgi',
    detail: `uwsgi --plugin python3 --scgi-socket … --master --processes ${POOL_PROCESSES}; scgi_pass unix:…`,
    unavailable: () =>
      missing(
        () => findBinary('uwsgi') && fs.existsSync(UWSGI_PLUGIN),
        'apt-get install uwsgi-core uwsgi-plugin-python3',
      ),
    start: startUwsgi,
    nginx: scgi,
  },
  {
    id: 'nginx-return',
    label: 'nginx return 200',
    kind: 'ceiling',
    protocol: 'return',
    routes: HELLO_ONLY,
    detail: 'return 200 "Hello, world!\\n"; no upstream: the ceiling of this nginx + wrk',
    nginx: () => ({
      locations: `        location / {\n            return 200 ${JSON.stringify(HELLO)};\n        }\n`,
    }),
  },
  {
    id: 'null-fastcgi',
    label: 'null FastCGI responder, kept alive',
    kind: 'ceiling',
    protocol: 'fastcgi',
    routes: HELLO_ONLY,
    detail: 'bench/peers/null-fastcgi.mjs: canned bytes, record headers only; the FastCGI ceiling',
    start: startNodePeer('null-fastcgi.mjs'),
    nginx: fastcgiKeptAlive,
  },
  {
    id: 'null-scgi',
    label: 'null SCGI responder',
    kind: 'ceiling',
    protocol: 'scgi',
    routes: HELLO_ONLY,
    detail: 'bench/peers/null-scgi.mjs: canned bytes, nothing parsed; the SCGI ceiling',
    start: startNodePeer('null-scgi.mjs'),
    nginx: scgi,
  },
];

/** Whether `target` serves `routeId` (the ceilings serve only hello). */
export const servesRoute = (target, routeId) => (target.routes ?? ALL_ROUTES)?.includes(routeId) ?? true;

/** The null responder whose req/s is the ceiling for a sluice target of this protocol. */
export const CEILING_OF = { fastcgi: 'null-fastcgi', scgi: 'null-scgi' };

/**
 * A sluice target served by another build (e2e's --baseline DIR, a built checkout): DIR/bin/sluice
 * with the same flags, app file and nginx location. `current` names the target it is compared with.
 */
export function onBaseline(target, dir) {
  const bin = path.join(dir, 'bin', 'sluice');
  return {
    ...target,
    id: `${target.id}-baseline`,
    label: `${target.label} [baseline]`,
    build: 'baseline',
    current: target.id,
    unavailable: () => target.unavailable?.(bin),
    start: (ctx) => target.start({ ...ctx, sluiceBin: bin }),
  };
}
