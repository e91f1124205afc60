#!/usr/bin/env node
// End-to-end benchmark: wrk → nginx → every target of bench/lib/targets.mjs (sluice over FastCGI and
// SCGI, node:http, node-fastcgi, PHP-FPM, Go net/http/fcgi, uWSGI, nginx's own return, two null
// responders) on every route of bench/lib/routes.mjs. See bench/README.md.
//
//   npm run bench                        # 2 s warm-up + 3 × 10 s per target and route
//   npm run bench -- --duration 5 --runs 3 --routes hello,1m
//   npm run bench -- --quick             # ~1 s per target and route: a smoke test of the harness
//   npm run bench -- --baseline ../old   # this build against an older built checkout, alternately
//   npm run bench -- --app bench/apps/fastify-route.mjs --routes item   # a framework app, sluice vs node:http
//
// Everything it starts runs in its own process group under a temp prefix, on 127.0.0.1 and Unix
// sockets only, and is stopped by PID at the end, on error and on SIGINT/SIGTERM. Results: markdown
// tables on stdout, plus JSON and markdown in bench/results/ (or --out-dir). Needs `npm run build`.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildOf, machineAndBuild, newestMtime, ROOT } from './build-info.mjs';
import { checkRoute } from './lib/check.mjs';
import { findNginx, renderNginxConf, startNginx } from './lib/nginx.mjs';
import { busyPct, groupMembers, rssOfKb, systemCpu } from './lib/proc-stats.mjs';
import { findBinary, freePort, log, makePrefix, sleep, versionOf } from './lib/processes.mjs';
import {
  baselineRatios,
  ceilingRatios,
  fmtInt,
  fmtMs,
  highWaterMarks,
  markdownReport,
  noiseLine,
  NOISE_LIMIT_PCT,
  ratios,
  summarize,
} from './lib/report.mjs';
import { requestBodyOf, ROUTES } from './lib/routes.mjs';
import { NODE_ARGS, onBaseline, servesRoute, TARGETS } from './lib/targets.mjs';
import { runWrk } from './lib/wrk.mjs';

const PAUSE_BETWEEN_RUNS_MS = 1000;
const CLIENT_MAX_BODY_SIZE = '16m'; // the 10 MiB upload and some room; nginx's default is 1m
const INSTALL_HINT = 'apt-get install nginx wrk';
// With --baseline: what runs unless --only, --routes or --runs say otherwise.
const BASELINE_TARGETS = ['sluice-fastcgi-keepalive'];
const BASELINE_ROUTES = ['hello', 'echo'];
const BASELINE_MIN_RUNS = 5;

const USAGE = `usage: node bench/e2e.mjs [options]      (npm run bench -- [options])

  --duration S      seconds per measured run (default 10; wrk takes whole seconds)
  --runs N          measured runs per target and route (default 3); median, min and max are reported
  --connections N   wrk connections (default 50)
  --threads N       wrk threads (default 1)
  --warmup S        warm-up seconds per target and route, not reported (default 2; 0 = none)
  --retry-noisy N   repeat a run up to N times while other processes use > ${NOISE_LIMIT_PCT}% of the CPUs (default 2)
  --quick           smoke form: 1 run of 1 s, no warm-up (explicit flags still win)
  --only LIST       comma-separated target ids (default: all installed)
  --routes LIST     comma-separated route ids (default: all)
  --app MODULE      an app served by sluice (loaded as any app) and by the node-http peer (an Express
                    app or listener as it is, a Koa app's callback(), a Fastify instance's routing once
                    ready) instead of the benchmark routes; only those targets run. Its routes: hello
                    (default; bench/apps/*-hello.mjs) or item (--routes item; bench/apps/*-route.mjs)
  --baseline DIR    also run each chosen sluice target from DIR, a checkout of another sluice that has
                    been built (DIR/dist/cli.js, DIR/bin/sluice), serving the same app behind the same
                    nginx location; the two builds alternate run by run, and the report adds each
                    one's median req/s and server CPU per request and this ÷ baseline per route.
                    Defaults then: --only ${BASELINE_TARGETS.join(',')}, --routes ${BASELINE_ROUTES.join(',')}, --runs ${BASELINE_MIN_RUNS} (at least ${BASELINE_MIN_RUNS})
  --out-dir DIR     where the JSON and markdown go (default bench/results)
  --keep            keep the temp prefix (configs, logs) after the run
  -h, --help        this text

Targets: ${TARGETS.map((t) => t.id).join(', ')}
Routes: ${ROUTES.map((r) => `${r.id} (${r.label}${r.appOnly ? ', --app only' : ''})`).join(', ')}
Environment: BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" adds node flags to the Node servers.`;

function usageError(message) {
  console.error(`bench/e2e.mjs: ${message}\n\n${USAGE}`);
  process.exit(2);
}

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
        routes: { type: 'string' },
        'out-dir': { type: 'string' },
        app: { type: 'string' },
        baseline: { type: 'string' },
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
  const list = (name, known) => {
    if (!v[name]) return undefined;
    const ids = v[name].split(',').map((s) => s.trim());
    const unknown = ids.filter((id) => !known.includes(id));
    if (unknown.length > 0) usageError(`unknown --${name}: ${unknown.join(', ')}`);
    return ids;
  };
  const quick = v.quick;
  const baseline = v.baseline === undefined ? undefined : path.resolve(v.baseline);
  if (baseline !== undefined) {
    for (const file of ['dist/cli.js', 'bin/sluice']) {
      if (!fs.existsSync(path.join(baseline, file)))
        usageError(
          `--baseline: ${path.join(baseline, file)} is missing (a built checkout of sluice is needed)`,
        );
    }
  }
  const options = {
    quick,
    duration: int('duration', quick ? 1 : 10, 1),
    runs:
      baseline === undefined
        ? int('runs', quick ? 1 : 3, 1)
        : int('runs', BASELINE_MIN_RUNS, BASELINE_MIN_RUNS), // a median of each build worth comparing
    connections: int('connections', 50, 1),
    threads: int('threads', 1, 1),
    warmup: int('warmup', quick ? 0 : 2, 0),
    retryNoisy: int('retry-noisy', quick ? 0 : 2, 0),
    only: list(
      'only',
      TARGETS.map((t) => t.id),
    ),
    routes: list(
      'routes',
      ROUTES.map((r) => r.id),
    ),
    outDir: v['out-dir'] ? path.resolve(v['out-dir']) : path.join(ROOT, 'bench', 'results'),
    app: v.app,
    baseline,
    keep: v.keep,
  };
  if (baseline !== undefined) {
    options.only ??= BASELINE_TARGETS;
    if (options.app === undefined) options.routes ??= BASELINE_ROUTES;
    if (!options.only.some((id) => TARGETS.find((t) => t.id === id).kind === 'sluice'))
      usageError('--baseline needs at least one sluice target in --only');
  }
  if (options.threads > options.connections) usageError('--threads must not exceed --connections');
  const appRoutes = ['hello', ...ROUTES.filter((r) => r.appOnly).map((r) => r.id)];
  if (options.app !== undefined) {
    // Another app answers only what it answers: hello or item, on the targets that load Node apps.
    if (!fs.existsSync(options.app)) usageError(`--app: no such file: ${options.app}`);
    const other = (options.routes ?? []).filter((id) => !appRoutes.includes(id));
    if (other.length > 0) usageError(`--app serves only the routes ${appRoutes.join(', ')}, not ${other}`);
    options.routes ??= ['hello'];
    options.only = (options.only ?? TARGETS.map((t) => t.id)).filter(
      (id) => id.startsWith('sluice') || id === 'node-http',
    );
  } else {
    const appOnly = (options.routes ?? []).filter((id) => ROUTES.find((r) => r.id === id).appOnly);
    if (appOnly.length > 0) usageError(`--routes ${appOnly}: served by the apps of --app only`);
    options.routes ??= ROUTES.filter((r) => !r.appOnly).map((r) => r.id);
  }
  return options;
}

function preflight(options) {
  if (process.platform !== 'linux') throw new Error('this benchmark reads /proc and needs Linux');
  const nginx = findNginx();
  const wrk = findBinary('wrk');
  const missing = [!nginx && 'nginx', !wrk && 'wrk'].filter(Boolean);
  if (missing.length > 0) {
    throw new Error(
      `${missing.join(' and ')} not found in PATH or /usr/sbin; install with: ${INSTALL_HINT} (Debian/Ubuntu), ` +
        'or run scripts/install-frontends.sh',
    );
  }
  const cli = path.join(ROOT, 'dist', 'cli.js');
  if (!fs.existsSync(cli)) throw new Error('dist/cli.js is missing: run `npm run build` first');
  if (newestMtime(path.join(ROOT, 'src')) > fs.statSync(cli).mtimeMs) {
    log('WARNING: src/ is newer than dist/: this measures the last build (run `npm run build` to refresh)');
  }
  const baseline = options.baseline;
  if (
    baseline !== undefined &&
    fs.existsSync(path.join(baseline, 'src')) &&
    newestMtime(path.join(baseline, 'src')) > fs.statSync(path.join(baseline, 'dist', 'cli.js')).mtimeMs
  ) {
    log(`WARNING: ${baseline}/src/ is newer than its dist/: the baseline is its last build`);
  }
  return { nginx, wrk };
}

/**
 * The targets to run and the ones skipped (with why); --only names a subset of both. With --baseline,
 * each sluice target is followed by its twin on the baseline build.
 */
function chooseTargets(options) {
  const chosen = TARGETS.filter((t) => !options.only || options.only.includes(t.id));
  const skipped = [];
  const run = [];
  for (const target of chosen) {
    const builds = [target];
    if (options.baseline !== undefined && target.kind === 'sluice')
      builds.push(onBaseline(target, options.baseline));
    for (const t of builds) {
      const reason = t.unavailable?.();
      if (reason) skipped.push({ id: t.id, reason });
      else run.push({ ...t });
    }
  }
  return { run, skipped };
}

async function measureRun(bins, options, combo, nginx) {
  for (let attempt = 0; ; attempt++) {
    const run = await runWrk(bins.wrk, options, combo, options.duration, nginx.workerPid);
    run.noisy = run.machineCpu.otherPct > NOISE_LIMIT_PCT || run.machineCpu.stealPct > NOISE_LIMIT_PCT;
    const retry = run.noisy && attempt < options.retryNoisy;
    log(
      `${combo.id}: run ${combo.runs.length + 1}/${options.runs}: ${fmtInt(run.rps)} req/s, ` +
        `p50 ${fmtMs(run.latencyUs.p50)}, p99 ${fmtMs(run.latencyUs.p99)}, non-2xx ${run.non2xx}, ` +
        `socket errors ${run.socketErrorTotal}; machine busy ${run.machineCpu.busyPct.toFixed(0)}%, ` +
        `other processes ${run.machineCpu.otherPct.toFixed(1)}%, steal ${run.machineCpu.stealPct.toFixed(1)}%` +
        (retry ? ' -> noisy: discarded, repeating' : run.noisy ? ' (noisy, kept)' : ''),
    );
    if (!retry) return run;
    combo.discarded.push(run);
    await waitForQuiet(30_000);
  }
}

/** Waits (up to maxMs) for a second in which the machine is < NOISE_LIMIT_PCT busy; the servers idle. */
async function waitForQuiet(maxMs) {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    const before = systemCpu();
    await sleep(1000);
    if (busyPct(before, systemCpu()) < NOISE_LIMIT_PCT) return;
  }
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const bins = preflight(options);
  const { run: targets, skipped } = chooseTargets(options);
  const routes = ROUTES.filter((r) => !options.routes || options.routes.includes(r.id));
  for (const s of skipped) log(`${s.id}: skipped (${s.reason})`);
  if (targets.length === 0) throw new Error('no target to run');
  const upstreamKeepalive = Math.max(16, options.connections); // an idle slot for every wrk connection
  const info = {
    ...machineAndBuild(),
    nginx: bins.nginx.version,
    wrk: versionOf(bins.wrk, ['-v']).replace(/\s+Copyright.*$/, ''),
    nodeArgs: NODE_ARGS,
  };
  const baseline =
    options.baseline === undefined ? null : { dir: options.baseline, ...buildOf(options.baseline) };
  const started = new Date();
  const prefix = makePrefix('bench');
  prefix.keep = options.keep;

  // A baseline twin's combination comes right after its current target's on the same route: the
  // round-robin below then runs this build, the baseline, this build, the baseline...
  const combos = [];
  for (const target of targets) {
    if (target.build === 'baseline') continue;
    const twin = targets.find((t) => t.current === target.id);
    for (const route of routes) {
      if (!servesRoute(target, route.id)) continue;
      for (const t of twin ? [target, twin] : [target])
        combos.push({ id: `${t.id} ${route.id}`, target: t, route, runs: [], discarded: [] });
    }
  }
  if (combos.length === 0) throw new Error('no target serves the chosen routes');
  const perCombo = options.warmup + options.runs * (options.duration + PAUSE_BETWEEN_RUNS_MS / 1000);
  const worstPerCombo = options.warmup + options.runs * (1 + options.retryNoisy) * (options.duration + 31);
  const budgetS = Math.ceil(combos.length * (worstPerCombo + 35) + targets.length * 60 + 120);
  const watchdog = setTimeout(() => {
    log(`watchdog: the whole benchmark exceeded ${budgetS} s; stopping everything`);
    prefix.finish(false).finally(() => process.exit(1));
  }, budgetS * 1000);
  watchdog.unref();

  let ok = false;
  try {
    log(
      `machine: ${info.nproc} CPUs, node ${info.node}, ${info.nginx}; wrk -t${options.threads} -c${options.connections}, ` +
        `warm-up ${options.warmup} s, ${options.runs} × ${options.duration} s per target and route; prefix ${prefix.dir}`,
    );
    if (baseline) {
      log(
        `baseline: ${baseline.dir} at ${baseline.gitCommit ?? '?'}${baseline.gitDirty ? ' + changes in src/' : ''}, ` +
          `against this build at ${info.gitCommit ?? '?'}${info.gitDirty ? ' + changes in src/' : ''}`,
      );
    }
    const before = systemCpu();
    await sleep(1000); // the load average lags by minutes: measure the last second instead
    info.busyPctBeforeStart = Math.round(busyPct(before, systemCpu()) * 10) / 10;
    if (info.busyPctBeforeStart > 10) {
      log(
        `WARNING: the CPUs were ${info.busyPctBeforeStart}% busy before the start: something else is running`,
      );
    }
    log(
      `${combos.length} target × route combinations, estimated time ~${Math.ceil(combos.length * perCombo + 10)} s`,
    );

    // Request bodies, generated once: wrk's Lua script reads the file, the check compares the echo.
    const bodies = new Map();
    for (const route of routes.filter((r) => r.requestBytes > 0)) {
      const file = path.join(prefix.dir, `body-${route.id}.bin`);
      const bytes = requestBodyOf(route);
      fs.writeFileSync(file, bytes);
      bodies.set(route.id, { file, bytes });
    }

    for (const target of targets) {
      target.port = await freePort();
      if (!target.start) continue;
      target.socket = path.join(prefix.dir, 'run', `${target.id}.sock`);
      const ctx = {
        id: target.id,
        socket: target.socket,
        prefix: prefix.dir,
        logFile: path.join(prefix.dir, 'logs', `${target.id}.log`),
        app: options.app,
      };
      target.server = await target.start(ctx);
      log(`${target.id}: pid ${target.server.pid}, ${target.socket}`);
    }
    const upstreams = [];
    const servers = [];
    for (const target of targets) {
      const ctx = {
        id: target.id,
        socket: target.socket,
        prefix: prefix.dir,
        paramsDir: bins.nginx.paramsDir,
      };
      const conf = target.nginx({ ...ctx, keepalive: upstreamKeepalive });
      if (conf.upstream) upstreams.push(conf.upstream);
      servers.push({
        comment: `${target.id}: ${target.detail}`,
        port: target.port,
        locations: conf.locations,
      });
    }
    const config = renderNginxConf({
      prefix: prefix.dir,
      servers,
      upstreams,
      http: `    client_max_body_size ${CLIENT_MAX_BODY_SIZE};   # bodies up to the 10 MiB upload; nginx buffers them (the default)\n`,
    });
    const nginx = await startNginx(
      bins.nginx,
      prefix.dir,
      config,
      targets.map((t) => t.port),
    );
    log(`nginx: master pid ${nginx.pid}, worker pid ${nginx.workerPid}`);

    for (const combo of combos) {
      const { target, route } = combo;
      combo.port = target.port;
      combo.bodyFile = bodies.get(route.id)?.file;
      combo.nginxServes = !target.server;
      combo.responseHead = await checkRoute(
        target.port,
        route,
        bodies.get(route.id)?.bytes,
        () =>
          `${combo.id}\nnginx error log:\n${nginx.errorLog()}` +
          (target.server ? `\n${target.id} log:\n${target.server.logTail()}` : ''),
      );
    }
    // The serving processes, fixed from here on: a server and the workers it forked, or nginx's worker.
    for (const target of targets) {
      target.servingPids = target.server ? groupMembers(target.server.pid) : [nginx.workerPid];
      target.idleRssKb = rssOfKb(target.servingPids);
    }
    for (const combo of combos) combo.servingPids = combo.target.servingPids;

    const ensureAlive = (combo) => {
      if (!nginx.running()) throw new Error(`nginx died:\n${nginx.errorLog()}`);
      const server = combo.target.server;
      if (server && !server.running())
        throw new Error(`${combo.target.id} (pid ${server.pid}) died:\n${server.logTail()}`);
    };

    if (options.warmup > 0) {
      for (const combo of combos) {
        log(`${combo.id}: warm-up ${options.warmup} s`);
        const warm = await runWrk(bins.wrk, options, combo, options.warmup, nginx.workerPid);
        combo.warmup = {
          rps: warm.rps,
          non2xx: warm.non2xx,
          socketErrors: warm.socketErrorTotal,
          peakRssKb: warm.peakRssKb,
        };
        ensureAlive(combo);
        await sleep(PAUSE_BETWEEN_RUNS_MS);
      }
    }
    // Round-robin: run i of every combination before run i+1, so drift spreads over all of them.
    // A run during which other processes (or the hypervisor) took more than NOISE_LIMIT_PCT of the
    // machine is discarded and repeated, up to --retry-noisy times, after waiting for a quiet moment.
    for (let i = 0; i < options.runs; i++) {
      for (const combo of combos) {
        combo.runs.push(await measureRun(bins, options, combo, nginx));
        ensureAlive(combo);
        await sleep(PAUSE_BETWEEN_RUNS_MS);
      }
    }
    for (const combo of combos) combo.summary = summarize(combo);
    const nginxErrors = nginx.errorLog().trim();

    const result = {
      date: started.toISOString(),
      machine: info,
      options: { ...options, only: options.only ?? null, routes: options.routes ?? null, keep: undefined },
      upstreamKeepalive,
      clientMaxBodySize: CLIENT_MAX_BODY_SIZE,
      nginxWorkerProcesses: 1,
      skipped,
      ratios: ratios(combos, routes),
      ceilingRatios: ceilingRatios(combos),
      baseline,
      vsBaseline: baseline ? baselineRatios(combos, routes) : null,
      targets: targets.map((t) => ({
        id: t.id,
        label: t.label,
        kind: t.kind,
        build: t.build ?? (t.kind === 'sluice' ? 'current' : undefined),
        protocol: t.protocol,
        detail: t.detail,
        idleRssKb: t.idleRssKb,
        servingPids: t.servingPids,
        highWaterMarks: highWaterMarks(t.servingPids),
      })),
      results: combos.map((c) => ({
        target: c.target.id,
        route: c.route.id,
        responseHead: c.responseHead,
        warmup: c.warmup ?? null,
        summary: c.summary,
        runs: c.runs,
        discardedNoisyRuns: c.discarded,
      })),
      nginxConf: config,
      nginxErrorLog: nginxErrors,
    };

    const markdown = markdownReport(result, combos, routes);
    fs.mkdirSync(options.outDir, { recursive: true });
    const stamp = started.toISOString().replace(/[:]/g, '').replace(/\..*$/, '').replace('T', '-');
    const base = path.join(options.outDir, `e2e-${stamp}${options.quick ? '-quick' : ''}`);
    fs.writeFileSync(`${base}.json`, JSON.stringify(result, null, 2) + '\n');
    fs.writeFileSync(`${base}.md`, markdown);

    console.log('\n' + markdown);
    if (nginxErrors)
      log(
        `nginx error log was not empty (kept in the JSON):\n${nginxErrors.split('\n').slice(-10).join('\n')}`,
      );
    log(noiseLine(combos));
    const noisy = combos.filter(
      (c) => c.summary.otherCpuPctMax > NOISE_LIMIT_PCT || c.summary.stealPctMax > NOISE_LIMIT_PCT,
    );
    if (noisy.length > 0)
      log(`WARNING: other load on the machine during ${noisy.map((c) => c.id).join(', ')}`);
    const errors = combos.filter((c) => c.summary.non2xx > 0 || c.summary.socketErrors > 0);
    if (errors.length > 0) log(`WARNING: errors during the runs of ${errors.map((c) => c.id).join(', ')}`);
    log(`wrote ${base}.json and .md`);
    ok = true;
  } finally {
    await prefix.finish(ok);
    clearTimeout(watchdog);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench/e2e.mjs: ${err.message}`);
    process.exit(1);
  },
);
