#!/usr/bin/env node
// Soak benchmark: sustained load (wrk → nginx → sluice) for minutes, a mix of routes, with the RSS
// and open files of the serving process group sampled every second. It reports whether memory grows
// with the number of requests served (the slope of RSS over requests after a warm-up), and whether
// any request the daemon accepted went unanswered: its own counters (the status path) against what
// nginx logged. See bench/README.md.
//
//   npm run bench:soak                                  # 10 minutes, FastCGI kept alive, one process
//   npm run bench:soak -- --duration 30s --protocol scgi
//   npm run bench:soak -- --duration 3m --workers 2
//
// Like the other benchmarks it runs everything under a temp prefix, on 127.0.0.1 and Unix sockets,
// and stops what it started by PID. Results: markdown on stdout, JSON and markdown in bench/results/.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { machineAndBuild, newestMtime, ROOT } from './build-info.mjs';
import { checkRoute, httpRequest } from './lib/check.mjs';
import { findNginx, renderNginxConf, startNginx } from './lib/nginx.mjs';
import { busyPct, fdCountOf, groupMembers, memoryOf, rssOfKb, systemCpu } from './lib/proc-stats.mjs';
import { findBinary, freePort, log, makePrefix, sleep, startServer, versionOf } from './lib/processes.mjs';
import { fmtInt, fmtMiB } from './lib/report.mjs';
import { HELLO, patternBytes } from './lib/routes.mjs';
import { serverEnv, sluiceArgv, TARGETS } from './lib/targets.mjs';
import { runWrk } from './lib/wrk.mjs';

const STATUS_PATH = '/sluice-status';
const SAMPLE_MS = 1000;
const PROGRESS_EVERY_S = 60;
const QUIET_TIMEOUT_MS = 15_000;
const LARGE_BYTES = 64 * 1024;

/** The nginx side of each --protocol: the e2e target whose location it reuses. */
const PROTOCOLS = {
  'fastcgi-keepalive': { target: 'sluice-fastcgi-keepalive', listen: 'fastcgi' },
  fastcgi: { target: 'sluice-fastcgi', listen: 'fastcgi' },
  scgi: { target: 'sluice-scgi', listen: 'scgi' },
};

const USAGE = `usage: node bench/soak.mjs [options]      (npm run bench:soak -- [options])

  --duration T      how long the load runs: 600, 30s, 10m, 1h (default 10m; whole seconds)
  --protocol P      fastcgi-keepalive (default), fastcgi (a connection per request) or scgi
  --workers N       sluice --workers N (default 0: one process)
  --connections N   wrk connections (default 50)
  --threads N       wrk threads (default 1)
  --echo-bytes N    size of the POST body echoed (default 8192)
  --fit-skip T      the start of the run left out of the RSS fit, as a duration (90s, 2m) or a
                    percentage (30%); default 20 % or 2 minutes, whichever is longer, at most half
  --out-dir DIR     where the JSON and markdown go (default bench/results)
  --keep            keep the temp prefix (configs, logs, the access log) after the run
  -h, --help        this text`;

function usageError(message) {
  console.error(`bench/soak.mjs: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function parseDuration(text, flag = '--duration', min = 1) {
  const match = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text);
  if (!match) usageError(`${flag}: not a duration: ${text}`);
  const seconds = Math.round(Number(match[1]) * { s: 1, m: 60, h: 3600 }[match[2] ?? 's']);
  if (seconds < min) usageError(`${flag} must be at least ${min} s`);
  return seconds;
}

/**
 * Seconds at the start of the run that the RSS fit leaves out. RSS climbs while the heap and the
 * connections settle (a minute or so here, in steps) and a fit that includes the climb reports it as
 * growth; by default 20 % or 2 minutes of the run, whichever is longer, but never more than half.
 */
function fitSkip(text, seconds) {
  if (text === undefined) return Math.min(Math.max(0.2 * seconds, 120), 0.5 * seconds);
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(text);
  const skip = pct ? (Number(pct[1]) / 100) * seconds : parseDuration(text, '--fit-skip', 0);
  if (skip >= seconds) usageError('--fit-skip must leave part of the run to fit');
  return skip;
}

function parseOptions(argv) {
  let v;
  try {
    ({ values: v } = parseArgs({
      args: argv,
      options: {
        duration: { type: 'string', default: '10m' },
        protocol: { type: 'string', default: 'fastcgi-keepalive' },
        workers: { type: 'string', default: '0' },
        connections: { type: 'string', default: '50' },
        threads: { type: 'string', default: '1' },
        'echo-bytes': { type: 'string', default: '8192' },
        'fit-skip': { type: 'string' },
        'out-dir': { type: 'string' },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    usageError(err.message);
  }
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name, min) => {
    if (!/^\d+$/.test(v[name]) || Number(v[name]) < min) usageError(`--${name} must be an integer >= ${min}`);
    return Number(v[name]);
  };
  if (!(v.protocol in PROTOCOLS)) usageError(`--protocol: one of ${Object.keys(PROTOCOLS).join(', ')}`);
  const options = {
    seconds: parseDuration(v.duration),
    protocol: v.protocol,
    workers: int('workers', 0),
    connections: int('connections', 1),
    threads: int('threads', 1),
    echoBytes: int('echo-bytes', 1),
    fitSkipSeconds: 0,
    outDir: v['out-dir'] ? path.resolve(v['out-dir']) : path.join(ROOT, 'bench', 'results'),
    keep: v.keep,
  };
  options.fitSkipSeconds = fitSkip(v['fit-skip'], options.seconds);
  if (options.threads > options.connections) usageError('--threads must not exceed --connections');
  return options;
}

/**
 * The routes of the mix, in the order each wrk connection cycles through them; `body` is the length
 * of a complete response body, which is how the access log tells a whole answer from a cut one.
 */
function mixRoutes(echoBytes) {
  return [
    { id: 'hello', method: 'GET', path: '/', body: HELLO.length, check: { expect: 'hello' } },
    {
      id: 'echo',
      method: 'POST',
      path: '/echo',
      body: echoBytes,
      requestBytes: echoBytes,
      check: { expect: 'echo' },
    },
    {
      id: '64k',
      method: 'GET',
      path: `/down?bytes=${LARGE_BYTES}`,
      body: LARGE_BYTES,
      check: { expect: 'size', responseBytes: LARGE_BYTES },
    },
  ];
}

// One line per request, tab-separated ($upstream_status may hold "502, 200" after a retry).
const LOG_FORMAT =
  "    log_format soak '$msec\\t$status\\t$upstream_status\\t$upstream_response_length\\t" +
  "$body_bytes_sent\\t$request_time\\t$request_method\\t$request_uri';\n";

/**
 * Server-level directives: every request logged, and nginx reads sluice's answer to the end even
 * when wrk has hung up (it stops mid-request when its time is up), so every request the daemon
 * accepted ends on both sides in a way the access log shows.
 */
const serverDirectives = (listen, accessLog) =>
  `        access_log ${accessLog} soak buffer=64k flush=1s;\n` +
  `        ${listen}_ignore_client_abort on;\n`;

/** The daemon's status JSON (its counters), read through nginx like any request. */
async function readStatus(port) {
  const response = await httpRequest(port, { path: STATUS_PATH, timeoutMs: 5000 });
  if (response.status !== 200) throw new Error(`${STATUS_PATH} answered ${response.status}`);
  return JSON.parse(response.body.toString('utf8'));
}

/** Least-squares line through (x, y) points: slope, intercept, r². */
function fitLine(points) {
  const n = points.length;
  if (n < 2) return { slope: NaN, intercept: NaN, r2: NaN, n };
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const [x, y] of points) {
    sxx += (x - mx) ** 2;
    sxy += (x - mx) * (y - my);
    syy += (y - my) ** 2;
  }
  const slope = sxx === 0 ? NaN : sxy / sxx;
  return { slope, intercept: my - slope * mx, r2: sxx === 0 || syy === 0 ? 0 : sxy ** 2 / (sxx * syy), n };
}

/**
 * Counts the access log's lines of the load (from `sinceMs` on, the status path left out). A
 * response is whole when the client got its whole body. The requests wrk left behind when it
 * stopped (logged from `clientGoneMs` on) are not judged by what nginx read: once its client is
 * gone nginx closes the upstream connection, possibly before reading a response sluice had already
 * written whole into the socket, which sluice cannot tell from one that arrived.
 */
async function readAccessLog(file, sinceMs, clientGoneMs, routes) {
  const byPath = new Map(routes.map((r) => [r.path, r]));
  const counts = {
    requests: 0,
    byStatus: {},
    byRoute: Object.fromEntries(routes.map((r) => [r.id, 0])),
    // sluice answered (upstream status below 500) with the whole body
    answeredWhole: 0,
    // sluice answered below 500 but nginx received less than the whole body from it
    answeredCut: 0,
    // nginx got a 5xx from sluice, or made one itself (502, 504) because sluice did not answer
    errorResponses: 0,
    // logged after wrk stopped: requests it left behind, answered to nginx alone
    leftByClient: 0,
    retried: 0,
    unknownPaths: 0,
    statusRequests: 0,
  };
  const lines = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line === '') continue;
    const [msec, status, upstreamStatus, , bodyBytes, , , uri] = line.split('\t');
    if (Number(msec) * 1000 < sinceMs) continue;
    if (uri === STATUS_PATH) {
      counts.statusRequests++;
      continue;
    }
    const route = byPath.get(uri);
    if (route === undefined) {
      counts.unknownPaths++;
      continue;
    }
    counts.requests++;
    counts.byRoute[route.id]++;
    counts.byStatus[status] = (counts.byStatus[status] ?? 0) + 1;
    // "502, 200": nginx tried another connection; the last attempt is what the client got.
    const attempts = upstreamStatus.split(/\s*[,:]\s*/);
    if (attempts.length > 1) counts.retried++;
    const lastStatus = Number(attempts.at(-1));
    const leftByClient = Number(msec) * 1000 >= clientGoneMs;
    if (leftByClient) counts.leftByClient++;
    if (Number.isFinite(lastStatus) && lastStatus < 500) {
      const whole = lastStatus !== 200 || Number(bodyBytes) === route.body || leftByClient;
      if (whole) counts.answeredWhole++;
      else counts.answeredCut++;
    } else {
      counts.errorResponses++;
    }
  }
  return counts;
}

/** Warnings and errors sluice logged (pino JSON, level ≥ 40), by message. */
function loggedWarnings(logFile) {
  const byMessage = {};
  let total = 0;
  let text;
  try {
    text = fs.readFileSync(logFile, 'utf8');
  } catch {
    return { total, byMessage };
  }
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (!(entry.level >= 40)) continue;
    total++;
    byMessage[entry.msg] = (byMessage[entry.msg] ?? 0) + 1;
  }
  return { total, byMessage };
}

function preflight() {
  if (process.platform !== 'linux') throw new Error('this benchmark reads /proc and needs Linux');
  const nginx = findNginx();
  const wrk = findBinary('wrk');
  const missing = [!nginx && 'nginx', !wrk && 'wrk'].filter(Boolean);
  if (missing.length > 0) {
    throw new Error(
      `${missing.join(' and ')} not found; install with: apt-get install nginx wrk, or run scripts/install-frontends.sh`,
    );
  }
  const cli = path.join(ROOT, 'dist', 'cli.js');
  if (!fs.existsSync(cli)) throw new Error('dist/cli.js is missing: run `npm run build` first');
  if (newestMtime(path.join(ROOT, 'src')) > fs.statSync(cli).mtimeMs) {
    log('WARNING: src/ is newer than dist/: this measures the last build (run `npm run build` to refresh)');
  }
  return { nginx, wrk };
}

/** Polls the status until only the probe itself is in flight (or the time is up); the last status. */
async function waitUntilIdle(port, probes) {
  const deadline = Date.now() + QUIET_TIMEOUT_MS;
  for (;;) {
    const status = await readStatus(port);
    probes.count++;
    if (status.totals.active <= 1 || Date.now() > deadline) return status;
    await sleep(250);
  }
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const bins = preflight();
  const protocol = PROTOCOLS[options.protocol];
  const routes = mixRoutes(options.echoBytes);
  const started = new Date();
  // Taken now: the build measured is the one loaded at the start, whatever happens to dist/ meanwhile.
  const machine = {
    ...machineAndBuild(),
    nginx: bins.nginx.version,
    wrk: versionOf(bins.wrk, ['-v']).replace(/\s+Copyright.*$/, ''),
  };
  const prefix = makePrefix('soak');
  prefix.keep = options.keep;
  const budgetS = options.seconds + 180;
  const watchdog = setTimeout(() => {
    log(`watchdog: the soak exceeded ${budgetS} s; stopping everything`);
    prefix.finish(false).finally(() => process.exit(1));
  }, budgetS * 1000);
  watchdog.unref();

  let ok = false;
  try {
    const echoFile = path.join(prefix.dir, 'echo-body.bin');
    const echoBody = patternBytes(options.echoBytes);
    fs.writeFileSync(echoFile, echoBody);
    fs.chmodSync(echoFile, 0o644);

    const socket = path.join(prefix.dir, 'run', 'sluice.sock');
    const logFile = path.join(prefix.dir, 'logs', 'sluice.log');
    const extra = ['--workers', String(options.workers), '--status-path', STATUS_PATH];
    const server = await startServer('sluice', sluiceArgv(protocol.listen, socket, extra), {
      socketPath: socket,
      logFile,
      env: serverEnv(),
    });
    log(`sluice: pid ${server.pid}, ${options.protocol}, --workers ${options.workers}, ${socket}`);

    const port = await freePort();
    const accessLog = path.join(prefix.dir, 'logs', 'access.log');
    const target = TARGETS.find((t) => t.id === protocol.target);
    const conf = target.nginx({
      id: 'soak',
      socket,
      prefix: prefix.dir,
      paramsDir: bins.nginx.paramsDir,
      keepalive: Math.max(16, options.connections),
    });
    const config = renderNginxConf({
      prefix: prefix.dir,
      servers: [
        {
          comment: `sluice, ${target.detail}`,
          port,
          locations: serverDirectives(protocol.listen, accessLog) + conf.locations,
        },
      ],
      upstreams: conf.upstream ? [conf.upstream] : [],
      http: LOG_FORMAT,
    });
    const nginx = await startNginx(bins.nginx, prefix.dir, config, [port]);
    log(`nginx: master pid ${nginx.pid}, worker pid ${nginx.workerPid}, 127.0.0.1:${port}`);

    for (const route of routes) {
      await checkRoute(
        port,
        { method: route.method, path: route.path, requestBytes: route.requestBytes ?? 0, ...route.check },
        echoBody,
        () => `nginx error log:\n${nginx.errorLog()}\nsluice log:\n${server.logTail()}`,
      );
    }

    const probes = { count: 0, failed: 0 };
    let pids = groupMembers(server.pid);
    const before = await readStatus(port);
    probes.count++;
    const start = { rssKb: rssOfKb(pids), fds: fdCountOf(pids), pids };
    log(`start: RSS ${fmtMiB(start.rssKb)}, ${start.fds} fds, ${pids.length} process(es)`);

    // Every second: the group's RSS and open files, and the daemon's request count as the x axis.
    const samples = [];
    const loadStartMs = Date.now();
    let lastProgress = 0;
    let sampling = true;
    const sampleLoop = (async () => {
      while (sampling) {
        const tick = Date.now();
        pids = groupMembers(server.pid);
        let requests = null;
        try {
          const status = await readStatus(port);
          requests = status.totals.requests - before.totals.requests;
        } catch {
          probes.failed++;
        }
        probes.count++;
        const t = (Date.now() - loadStartMs) / 1000;
        const byPid = Object.fromEntries(pids.map((pid) => [pid, memoryOf(pid)?.rssKb ?? 0]));
        const rssKb = Object.values(byPid).reduce((a, b) => a + b, 0);
        samples.push({ t, requests, rssKb, fds: fdCountOf(pids), processes: pids.length, byPid });
        if (t - lastProgress >= PROGRESS_EVERY_S) {
          lastProgress = t;
          const s = samples.at(-1);
          log(
            `${Math.round(t)} s: ${fmtInt(s.requests ?? NaN)} requests, RSS ${fmtMiB(s.rssKb)}, ${s.fds} fds`,
          );
        }
        await sleep(Math.max(0, SAMPLE_MS - (Date.now() - tick)));
      }
    })();

    const cpu0 = systemCpu();
    const run = await runWrk(
      bins.wrk,
      { threads: options.threads, connections: options.connections },
      {
        id: 'soak',
        port,
        route: { path: '/' },
        mix: routes.map((r) => `${r.method} ${r.path}${r.requestBytes ? ` ${echoFile}` : ''}`).join(';'),
        servingPids: pids,
      },
      options.seconds,
      nginx.workerPid,
    );
    const loadEndMs = Date.now();
    sampling = false;
    await sampleLoop;
    const machineBusyPct = busyPct(cpu0, systemCpu());
    if (!server.running()) throw new Error(`sluice died during the soak:\n${server.logTail()}`);
    if (!nginx.running()) throw new Error(`nginx died during the soak:\n${nginx.errorLog()}`);

    // wrk has stopped; nginx still reads what sluice answers to the requests wrk left behind.
    const after = await waitUntilIdle(port, probes);
    await sleep(1500); // the access log's buffer is flushed every second
    pids = groupMembers(server.pid);
    const end = { rssKb: rssOfKb(pids), fds: fdCountOf(pids), pids };
    // wrk starts after loadStartMs, so it cannot stop before this; what is logged later it left behind.
    const clientGoneMs = loadStartMs + options.seconds * 1000;
    const nginxCounts = await readAccessLog(accessLog, loadStartMs, clientGoneMs, routes);

    // The daemon's side: requests whose headers it parsed (admitted, then finished or still in
    // flight), less the status probes, which it counted too. The probe that read `before` was in
    // flight then and finished after; the one that read `after` is in flight in it.
    const d = (key) => after.totals[key] - before.totals[key];
    const probesCounted = probes.count - 1 - probes.failed; // all but the one in flight in `after`
    const stillActive = after.totals.active - 1;
    const admitted = d('requests') - probesCounted + stillActive;
    const daemon = {
      admitted,
      finished: d('requests') - probesCounted,
      errors: d('errors'),
      overloaded: d('overloaded'),
      timeouts: d('timeouts'),
      stillActive,
      connectionsAccepted: d('accepted'),
      restarts: after.restarts - before.restarts,
      recycles: after.recycles - before.recycles,
    };
    // Lost: accepted by the daemon, yet neither answered whole (as far as nginx read from sluice)
    // nor counted by the daemon as an error (a 5xx, or a request cut short it knows of).
    const lost = admitted - daemon.errors - nginxCounts.answeredWhole;

    const fitSamples = samples.filter(
      (s) => s.requests !== null && s.t >= options.fitSkipSeconds && s.t <= options.seconds,
    );
    const fit = fitLine(fitSamples.map((s) => [s.requests / 1e6, s.rssKb / 1024]));
    const fitPerMinute = fitLine(fitSamples.map((s) => [s.t / 60, s.rssKb / 1024]));
    // With workers, which process grows: the same fit for each one present in every fitted sample.
    const byProcess = Object.keys(fitSamples[0]?.byPid ?? {})
      .filter((pid) => fitSamples.every((s) => pid in s.byPid))
      .map((pid) => ({
        pid: Number(pid),
        role: Number(pid) === server.pid ? (options.workers > 0 ? 'primary' : 'single') : 'worker',
        slopeMiBPerMillionRequests: fitLine(fitSamples.map((s) => [s.requests / 1e6, s.byPid[pid] / 1024]))
          .slope,
        fromKb: fitSamples[0].byPid[pid],
        toKb: fitSamples.at(-1).byPid[pid],
      }));
    const peakRssKb = Math.max(run.peakRssKb, end.rssKb, ...samples.map((s) => s.rssKb));
    const seconds = (loadEndMs - loadStartMs) / 1000;

    const result = {
      date: started.toISOString(),
      machine,
      options: { ...options, keep: undefined, outDir: undefined },
      routes: routes.map(({ id, method, path: p, body }) => ({ id, method, path: p, responseBytes: body })),
      durationSeconds: seconds,
      requests: nginxCounts.requests,
      rps: nginxCounts.requests / seconds,
      wrk: {
        requests: run.requests,
        rps: run.rps,
        non2xx: run.non2xx,
        socketErrors: run.socketErrors,
        socketErrorTotal: run.socketErrorTotal,
        latencyUs: run.latencyUs,
      },
      nginx: nginxCounts,
      daemon,
      lost,
      rss: {
        startKb: start.rssKb,
        endKb: end.rssKb,
        peakKb: peakRssKb,
        fit: {
          skipSeconds: options.fitSkipSeconds,
          samples: fit.n,
          fromRequests: fitSamples[0]?.requests ?? null,
          toRequests: fitSamples.at(-1)?.requests ?? null,
          slopeMiBPerMillionRequests: fit.slope,
          slopeMiBPerMinute: fitPerMinute.slope,
          r2: fit.r2,
          byProcess,
        },
      },
      fds: {
        start: start.fds,
        end: end.fds,
        peak: Math.max(start.fds, end.fds, ...samples.map((s) => s.fds)),
      },
      processes: { start: start.pids.length, end: end.pids.length },
      statusProbes: probes,
      sluiceWarnings: loggedWarnings(logFile),
      cpu: {
        machineBusyPct,
        otherProcessesPct: run.machineCpu.otherPct,
        stealPct: run.machineCpu.stealPct,
        serverSeconds: run.cpuSeconds.server,
      },
      samples,
      nginxConf: config,
      nginxErrorLog: nginx.errorLog().trim(),
    };

    const markdown = markdownReport(result);
    fs.mkdirSync(options.outDir, { recursive: true });
    const stamp = started.toISOString().replace(/[:]/g, '').replace(/\..*$/, '').replace('T', '-');
    const base = path.join(options.outDir, `soak-${stamp}`);
    fs.writeFileSync(`${base}.json`, JSON.stringify(result, null, 2) + '\n');
    fs.writeFileSync(`${base}.md`, markdown);
    console.log('\n' + markdown);
    log(`wrote ${base}.json and .md`);
    ok = lost === 0 && stillActive === 0;
    if (!ok) log(`FAILED: ${lost} request(s) lost, ${stillActive} still in flight after the load`);
  } finally {
    clearTimeout(watchdog);
    await prefix.finish(ok);
  }
  return ok;
}

const fmtSigned = (x, digits) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(digits)}` : 'n/a');

function markdownReport(r) {
  const m = r.machine;
  const o = r.options;
  const w = r.wrk;
  const n = r.nginx;
  const d = r.daemon;
  const fit = r.rss.fit;
  const statuses = Object.entries(n.byStatus)
    .map(([status, count]) => `${status}: ${fmtInt(count)}`)
    .join(', ');
  const warnings = Object.entries(r.sluiceWarnings.byMessage)
    .map(([msg, count]) => `${count} × "${msg}"`)
    .join(', ');
  const rows = [
    ['duration', `${r.durationSeconds.toFixed(0)} s`],
    ['requests (nginx access log)', `${fmtInt(r.requests)} (${routesLine(r)})`],
    ['req/s', fmtInt(r.rps)],
    [
      'wrk',
      `${fmtInt(w.requests)} responses, ${w.non2xx} non-2xx/3xx, ${w.socketErrorTotal} socket errors, ` +
        `p50 ${(w.latencyUs.p50 / 1000).toFixed(2)} ms, p99 ${(w.latencyUs.p99 / 1000).toFixed(2)} ms`,
    ],
    ['statuses (nginx)', statuses || 'none'],
    [
      'answered by sluice',
      `${fmtInt(n.answeredWhole)} whole, ${n.answeredCut} cut short, ${n.errorResponses} 5xx; ` +
        `${n.retried} retried by nginx; ${n.leftByClient} logged after wrk's time was up`,
    ],
    [
      'daemon counters',
      `${fmtInt(d.admitted)} accepted, ${d.errors} errors, ${d.overloaded} overloaded, ${d.timeouts} timeouts, ` +
        `${d.stillActive} still in flight; ${fmtInt(d.connectionsAccepted)} connections`,
    ],
    ['**lost**', `**${r.lost}**`],
    ['RSS start / end / peak', `${fmtMiB(r.rss.startKb)} / ${fmtMiB(r.rss.endKb)} / ${fmtMiB(r.rss.peakKb)}`],
    [
      '**RSS slope**',
      `**${fmtSigned(fit.slopeMiBPerMillionRequests, 3)} MiB per million requests** ` +
        `(${fmtSigned(fit.slopeMiBPerMinute, 3)} MiB/min; r² ${Number.isFinite(fit.r2) ? fit.r2.toFixed(2) : 'n/a'}, ` +
        `${fit.samples} samples after the first ${fit.skipSeconds} s)`,
    ],
    ...(fit.byProcess.length > 1
      ? [
          [
            'RSS slope per process',
            fit.byProcess
              .map(
                (x) =>
                  `${x.role} ${x.pid}: ${fmtSigned(x.slopeMiBPerMillionRequests, 3)} (${fmtMiB(x.fromKb)} → ${fmtMiB(x.toKb)})`,
              )
              .join('; '),
          ],
        ]
      : []),
    ['open fds start / end / peak', `${r.fds.start} / ${r.fds.end} / ${r.fds.peak}`],
    [
      'sluice warnings logged',
      r.sluiceWarnings.total === 0 ? 'none' : `${r.sluiceWarnings.total}: ${warnings}`,
    ],
    [
      'CPU',
      `machine ${r.cpu.machineBusyPct.toFixed(0)} % busy, other processes ${r.cpu.otherProcessesPct.toFixed(1)} %, ` +
        `steal ${r.cpu.stealPct.toFixed(1)} %`,
    ],
  ];
  return `# sluice soak benchmark, ${r.date}

Machine: ${m.nproc} CPUs (${m.cpu}), ${m.memGiB} GiB RAM, ${m.kernel}; node ${m.node}, nginx ${m.nginx}, ${m.wrk}; sluice ${m.gitCommit ?? '?'}${m.gitDirty ? ' (src modified)' : ''} (dist/ sha256 ${m.distSha256}).

wrk -t${o.threads} -c${o.connections} → nginx → sluice \`${o.protocol}\`, \`--workers ${o.workers}\`; each connection cycles
through ${r.routes.map((x) => `\`${x.method} ${x.path}\``).join(', ')}. RSS and open files: the serving
process group, every ${SAMPLE_MS / 1000} s; the slope is a least-squares fit of RSS over the daemon's request count.

| figure | value |
| --- | --- |
${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}

Lost: requests the daemon accepted (its counters, from \`${STATUS_PATH}\`) that it neither answered whole,
as nginx read the answer from it (access log), nor counted as an error.
`;
}

function routesLine(r) {
  return r.routes.map((x) => `${x.id} ${fmtInt(r.nginx.byRoute[x.id])}`).join(', ');
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (err) => {
    console.error(`bench/soak.mjs: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
