// From runs to results: per target and route the medians and ranges, the ratios of every sluice
// target to node:http, to each peer and to its null ceiling, and the markdown tables of all of it.
import { memoryOf } from './proc-stats.mjs';
import { CEILING_OF } from './targets.mjs';
import { RSS_SAMPLE_MS } from './wrk.mjs';

export const NOISE_LIMIT_PCT = 5; // % of the whole machine's CPU used by others (or stolen) during a run

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** One target on one route, over its measured runs. */
export function summarize(combo) {
  const runs = combo.runs;
  const rps = runs.map((r) => r.rps);
  const requests = runs.reduce((n, r) => n + r.requests, 0);
  const serverCpu = runs.reduce((n, r) => n + r.cpuSeconds.server, 0);
  const nginxCpu = runs.reduce((n, r) => n + (r.cpuSeconds.nginxWorker ?? NaN), 0);
  const serverFaults = runs.reduce((n, r) => n + r.minorFaults.server, 0);
  return {
    rps: { median: median(rps), min: Math.min(...rps), max: Math.max(...rps) },
    latencyUs: {
      p50: median(runs.map((r) => r.latencyUs.p50)),
      p99: median(runs.map((r) => r.latencyUs.p99)),
    },
    requests,
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    socketErrors: runs.reduce((n, r) => n + r.socketErrorTotal, 0),
    peakRssKb: Math.max(combo.warmup?.peakRssKb ?? 0, ...runs.map((r) => r.peakRssKb)),
    discardedNoisyRuns: combo.discarded.length,
    otherCpuPctMax: Math.max(...runs.map((r) => r.machineCpu.otherPct)),
    stealPctMax: Math.max(...runs.map((r) => r.machineCpu.stealPct)),
    cpuUsPerRequest: {
      server: (serverCpu / requests) * 1e6,
      nginxWorker: (nginxCpu / requests) * 1e6,
      // Per run, for the median the baseline comparison reports; `server` above is over all runs.
      serverPerRun: runs.map((r) => (r.cpuSeconds.server / r.requests) * 1e6),
    },
    // Memory the kernel mapped in for the server: where bodies stream through fresh buffers, the
    // allocator returning and retaking memory costs more CPU than the server's code (bench/README.md).
    minorFaultsPerRequest: { server: serverFaults / requests },
  };
}

/**
 * e2e --baseline: per route and sluice target, the medians over the runs of req/s and of server CPU
 * per request of this build and of the baseline build, and current ÷ baseline.
 */
export function baselineRatios(combos, routes) {
  const out = [];
  for (const route of routes) {
    const on = combos.filter((c) => c.route.id === route.id);
    for (const base of on.filter((c) => c.target.build === 'baseline')) {
      const current = on.find((c) => c.target.id === base.target.current);
      if (!current) continue;
      const figures = (c) => ({
        rps: c.summary.rps.median,
        rpsRange: [c.summary.rps.min, c.summary.rps.max],
        cpuUs: median(c.summary.cpuUsPerRequest.serverPerRun),
        cpuUsRange: [
          Math.min(...c.summary.cpuUsPerRequest.serverPerRun),
          Math.max(...c.summary.cpuUsPerRequest.serverPerRun),
        ],
        runs: c.runs.length,
      });
      const cur = figures(current);
      const old = figures(base);
      out.push({
        route: route.id,
        target: current.target.id,
        label: current.target.label,
        current: cur,
        baseline: old,
        rpsRatio: cur.rps / old.rps,
        cpuRatio: cur.cpuUs / old.cpuUs,
      });
    }
  }
  return out;
}

/** VmHWM (kB) of each serving process at the end: the JSON keeps it next to the sampled peaks. */
export const highWaterMarks = (pids) => pids.map((pid) => ({ pid, vmHwmKb: memoryOf(pid)?.hwmKb }));

const PEER_ORDER = ['node-http', 'node-fastcgi', 'php-fpm', 'go-fcgi', 'uwsgi-scgi'];

/**
 * Per route, for each sluice target: req/s ÷ each peer's and ÷ its null ceiling's; p50, p99, peak
 * RSS and CPU per request ÷ node:http's. A ratio is missing when the other side did not run.
 */
export function ratios(combos, routes) {
  const out = [];
  for (const route of routes) {
    const on = combos.filter((c) => c.route.id === route.id);
    const byId = new Map(on.map((c) => [c.target.id, c.summary]));
    const node = byId.get('node-http');
    for (const c of on.filter((x) => x.target.kind === 'sluice')) {
      const s = c.summary;
      const ceilingId = CEILING_OF[c.target.protocol];
      const ceiling = byId.get(ceilingId);
      out.push({
        route: route.id,
        target: c.target.id,
        label: c.target.label,
        rpsVs: Object.fromEntries(
          PEER_ORDER.filter((id) => byId.has(id)).map((id) => [id, s.rps.median / byId.get(id).rps.median]),
        ),
        ceiling: ceiling ? { id: ceilingId, rps: s.rps.median / ceiling.rps.median } : null,
        vsNodeHttp: node
          ? {
              p50: s.latencyUs.p50 / node.latencyUs.p50,
              p99: s.latencyUs.p99 / node.latencyUs.p99,
              peakRss: s.peakRssKb / node.peakRssKb,
              serverCpuPerRequest: s.cpuUsPerRequest.server / node.cpuUsPerRequest.server,
            }
          : null,
      });
    }
  }
  return out;
}

/** How the ceilings compare with the servers they bound (the issue's reference figures). */
export function ceilingRatios(combos) {
  const rps = (id) => combos.find((c) => c.route.id === 'hello' && c.target.id === id)?.summary.rps.median;
  const pairs = [
    ['null-fastcgi', 'node-http'],
    ['null-scgi', 'uwsgi-scgi'],
    ['null-fastcgi', 'nginx-return'],
    ['null-scgi', 'nginx-return'],
  ];
  return pairs
    .filter(([a, b]) => rps(a) && rps(b))
    .map(([a, b]) => ({ ceiling: a, versus: b, rps: rps(a) / rps(b) }));
}

const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
export const fmtMs = (us) => `${(us / 1000).toFixed(2)} ms`;
export const fmtMiB = (kb) => (Number.isFinite(kb) ? `${(kb / 1024).toFixed(1)} MiB` : 'n/a');
const fmtRatio = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : 'n/a');
export { fmtInt };

function routeTable(combos) {
  const rows = [
    '| target | req/s (median) | min–max | p50 | p99 | non-2xx/3xx | socket errors | peak RSS | server CPU/req | server page faults/req |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const c of combos) {
    const s = c.summary;
    rows.push(
      `| ${c.target.label} | ${fmtInt(s.rps.median)} | ${fmtInt(s.rps.min)}–${fmtInt(s.rps.max)} | ` +
        `${fmtMs(s.latencyUs.p50)} | ${fmtMs(s.latencyUs.p99)} | ${s.non2xx} | ${s.socketErrors} | ` +
        `${fmtMiB(s.peakRssKb)} | ${Number.isFinite(s.cpuUsPerRequest.server) ? `${s.cpuUsPerRequest.server.toFixed(1)} µs` : 'n/a'} | ` +
        `${Number.isFinite(s.minorFaultsPerRequest.server) ? s.minorFaultsPerRequest.server.toFixed(1) : 'n/a'} |`,
    );
  }
  return rows.join('\n');
}

function ratioTables(list) {
  if (list.length === 0) return '';
  const peers = PEER_ORDER.filter((id) => list.some((r) => id in r.rpsVs));
  const hasCeiling = list.some((r) => r.ceiling);
  const head = [...peers.map((id) => `÷ ${id}`), ...(hasCeiling ? ['÷ its null ceiling'] : [])];
  if (head.length === 0) return ''; // sluice targets alone (--only): nothing to divide by
  const rows = [`| sluice req/s | ${head.join(' | ')} |`, `| --- |${head.map(() => ' ---: |').join('')}`];
  for (const r of list) {
    const cells = peers.map((id) => fmtRatio(r.rpsVs[id]));
    if (hasCeiling) cells.push(r.ceiling ? `${fmtRatio(r.ceiling.rps)} (${r.ceiling.id})` : 'n/a');
    rows.push(`| ${r.label} | ${cells.join(' | ')} |`);
  }
  let text = rows.join('\n');
  if (list.some((r) => r.vsNodeHttp)) {
    text +=
      '\n\n| sluice ÷ node:http | p50 | p99 | peak RSS | server CPU/req |\n| --- | ---: | ---: | ---: | ---: |\n' +
      list
        .filter((r) => r.vsNodeHttp)
        .map((r) => {
          const v = r.vsNodeHttp;
          return `| ${r.label} | ${fmtRatio(v.p50)} | ${fmtRatio(v.p99)} | ${fmtRatio(v.peakRss)} | ${fmtRatio(v.serverCpuPerRequest)} |`;
        })
        .join('\n');
  }
  return text;
}

function baselineTable(list) {
  const us = (x) => `${x.toFixed(1)} µs`;
  const range = (r, f) => `${f(r[0])}–${f(r[1])}`;
  const rows = [
    '| route | target | req/s current | req/s baseline | req/s ÷ | server CPU/req current | server CPU/req baseline | CPU/req ÷ |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of list) {
    const c = r.current;
    const b = r.baseline;
    rows.push(
      `| ${r.route} | ${r.label} | ${fmtInt(c.rps)} (${range(c.rpsRange, fmtInt)}) | ` +
        `${fmtInt(b.rps)} (${range(b.rpsRange, fmtInt)}) | ${fmtRatio(r.rpsRatio)} | ` +
        `${us(c.cpuUs)} (${range(c.cpuUsRange, (x) => x.toFixed(1))}) | ` +
        `${us(b.cpuUs)} (${range(b.cpuUsRange, (x) => x.toFixed(1))}) | ${fmtRatio(r.cpuRatio)} |`,
    );
  }
  return rows.join('\n');
}

export function noiseLine(combos) {
  const other = Math.max(...combos.map((c) => c.summary.otherCpuPctMax));
  const steal = Math.max(...combos.map((c) => c.summary.stealPctMax));
  const discarded = combos.reduce((n, c) => n + c.summary.discardedNoisyRuns, 0);
  return (
    `Noise: in the worst reported run, processes outside the benchmark used ${other.toFixed(1)}% of the machine's CPU ` +
    `and the hypervisor stole ${steal.toFixed(1)}%; ${discarded} run(s) with more than ${NOISE_LIMIT_PCT}% were discarded and repeated.`
  );
}

/** The whole report: settings, then per route the results table and the ratio tables. */
export function markdownReport(result, combos, routes) {
  const m = result.machine;
  const o = result.options;
  const labels = new Map(combos.map((c) => [c.target.id, c.target.label]));
  const sections = routes.map((route) => {
    const on = combos.filter((c) => c.route.id === route.id);
    const list = result.ratios.filter((r) => r.route === route.id);
    return `### ${route.label}: \`${route.method} ${route.path}\`\n\n${routeTable(on)}\n\n${ratioTables(list)}`.trimEnd();
  });
  const ceilings = result.ceilingRatios
    .map((c) => `${labels.get(c.ceiling)} = ${fmtRatio(c.rps)} ${labels.get(c.versus)}`)
    .join('; ');
  const skipped = result.skipped.map((s) => `\`${s.id}\` (${s.reason})`).join(', ');
  const b = result.baseline;
  const vsBaseline = b
    ? `### This build ÷ the baseline

Medians over ${o.runs} runs of each build, run alternately (this build, then the baseline, on each route in turn), min–max in brackets. ` +
      `Server CPU/req here is the median of each run's CPU ÷ requests. ÷: this build's figure ÷ the baseline's (req/s above 1× and CPU/req below 1× are better).

${baselineTable(result.vsBaseline)}
`
    : '';
  return `# sluice end-to-end benchmark, ${result.date}

Machine: ${m.nproc} CPUs (${m.cpu}), ${m.memGiB} GiB RAM, ${m.kernel}; node ${m.node}, ${m.nginx}, ${m.wrk}; CPU ${m.busyPctBeforeStart}% busy in the second before the start; sluice ${m.gitCommit ?? '?'}${m.gitDirty ? ' + uncommitted changes in src/' : ''} (dist/ built ${m.distBuiltAt}, sha256 ${m.distSha256}).
${b ? `\nBaseline (\`[baseline]\` rows): ${b.dir}, sluice ${b.gitCommit ?? '?'}${b.gitDirty ? ' + uncommitted changes in src/' : ''} (dist/ built ${b.distBuiltAt}, sha256 ${b.distSha256}); the same app file and nginx configuration.\n` : ''}
${o.app ? `App: \`${o.app}\`, served by each sluice target and by node:http (bench/peers/node-http.mjs).\n\n` : ''}Settings: wrk -t${o.threads} -c${o.connections} -d${o.duration}s --latency, ${o.runs} run(s) per target and route after ${o.warmup} s warm-up, runs interleaved round-robin; nginx worker_processes 1, access_log off, upstream keepalive ${result.upstreamKeepalive}, client_max_body_size ${result.clientMaxBodySize}; every server on a Unix socket.${o.quick ? ' **Quick smoke run: not a measurement.**' : ''}
${skipped ? `\nSkipped: ${skipped}.\n` : ''}
${sections.join('\n\n')}
${vsBaseline ? `\n${vsBaseline}` : ''}${ceilings ? `\nCeilings (hello req/s): ${ceilings}.\n` : ''}
${noiseLine(combos)}

p50/p99: median over the runs of wrk's per-run percentiles. Peak RSS: highest sum of VmRSS over the serving
process group (the server and the workers it forked; for nginx return, the nginx worker) sampled every
${RSS_SAMPLE_MS} ms while that target and route were loaded, warm-up included. Server CPU/req: user+system CPU of
that group during the measured runs ÷ requests. Null ceilings: sluice FastCGI targets ÷ null-fastcgi, SCGI ÷ null-scgi
(hello only).
`;
}
