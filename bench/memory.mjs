#!/usr/bin/env node
// Memory benchmark: one large upload and one large download through nginx to sluice (FastCGI and
// SCGI), with the RSS of the sluice process sampled every 100 ms. Streaming must keep it flat: the
// peak may not grow with the size of the body. See bench/README.md.
//
//   npm run bench:memory                    # 1 GiB each way, FastCGI and SCGI
//   npm run bench:memory -- --bytes 16m     # the smoke form
//
// nginx streams both directions (fastcgi/scgi_request_buffering off, fastcgi/scgi_buffering off):
// it then holds at most a buffer or two, and every byte waits on sluice's own flow control, which is
// what is measured. The client is this process, writing one reused 64 KiB chunk as the socket takes
// it and counting the answer without keeping it, so nothing here holds the body either.
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { machineAndBuild, ROOT } from './build-info.mjs';
import { httpRequest } from './lib/check.mjs';
import { findNginx, keepaliveUpstream, renderNginxConf, startNginx } from './lib/nginx.mjs';
import { groupMembers, rssOfKb } from './lib/proc-stats.mjs';
import { freePort, log, makePrefix, sleep, startServer } from './lib/processes.mjs';
import { fmtMiB } from './lib/report.mjs';
import { CHUNK_BYTES, HELLO } from './lib/routes.mjs';
import { sluiceArgv } from './lib/targets.mjs';

const SAMPLE_MS = 100;
const PROTOCOLS = ['fastcgi', 'scgi'];
const REQUEST_BUFFERING = { fastcgi: 'off', scgi: 'on' }; // why: see location()

const USAGE = `usage: node bench/memory.mjs [options]      (npm run bench:memory -- [options])

  --bytes SIZE       bytes uploaded and downloaded, with k/m/g suffixes (default 1g)
  --protocols LIST   fastcgi,scgi (default both)
  --max-growth MIB   largest allowed peak RSS above the baseline, in MiB (default 64); exit 1 above it
  --out-dir DIR      where the JSON goes (default bench/results)
  --keep             keep the temp prefix (configs, logs) after the run
  -h, --help         this text`;

function usageError(message) {
  console.error(`bench/memory.mjs: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function parseSize(text) {
  const match = /^(\d+(?:\.\d+)?)([kmg]?)$/i.exec(text);
  if (!match) usageError(`--bytes: not a size: ${text}`);
  return Math.round(Number(match[1]) * 1024 ** ' kmg'.indexOf(match[2].toLowerCase() || ' '));
}

function parseOptions(argv) {
  let v;
  try {
    ({ values: v } = parseArgs({
      args: argv,
      options: {
        bytes: { type: 'string', default: '1g' },
        protocols: { type: 'string', default: PROTOCOLS.join(',') },
        'max-growth': { type: 'string', default: '64' },
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
  const protocols = v.protocols.split(',').map((s) => s.trim());
  if (protocols.some((p) => !PROTOCOLS.includes(p))) usageError(`--protocols: one or more of ${PROTOCOLS}`);
  const maxGrowthMiB = Number(v['max-growth']);
  if (!(maxGrowthMiB > 0)) usageError('--max-growth must be a positive number of MiB');
  return {
    bytes: parseSize(v.bytes),
    protocols,
    maxGrowthMiB,
    outDir: v['out-dir'] ? path.resolve(v['out-dir']) : path.join(ROOT, 'bench', 'results'),
    keep: v.keep,
  };
}

/**
 * nginx location to sluice over `protocol`. Responses are streamed (buffering off). Request bodies
 * are streamed over FastCGI (request_buffering off, as the /uploads/ location of the shipped
 * deploy/nginx/sluice-fastcgi.conf); over SCGI nginx 1.22 would then announce only the bytes it had
 * already read as CONTENT_LENGTH (about 9 KB of a 1 GiB body) and send the rest after the request, so
 * SCGI uploads are buffered by nginx to a temp file first and sent on from there, as the shipped
 * sluice-scgi.conf does.
 */
function location(protocol, pass, paramsDir) {
  const keep = protocol === 'fastcgi' ? '            fastcgi_keep_conn on;\n' : '';
  return (
    `        location / {\n            include ${paramsDir}/${protocol}_params;\n` +
    `            ${protocol}_pass ${pass};\n${keep}` +
    `            client_max_body_size 0;               # no limit: the body is streamed, not held\n` +
    `            ${protocol}_request_buffering ${REQUEST_BUFFERING[protocol]};\n` +
    `            ${protocol}_buffering off;             # the response goes to the client as sluice writes it\n` +
    `        }\n`
  );
}

/** Samples the summed RSS of `pids` every SAMPLE_MS until stopped: { stop() -> { peakKb, samples } }. */
function sampleRss(pids) {
  let peakKb = 0;
  let samples = 0;
  const take = () => {
    peakKb = Math.max(peakKb, rssOfKb(pids));
    samples++;
  };
  take();
  const timer = setInterval(take, SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { peakKb, samples };
    },
  };
}

/** POSTs `bytes` to /upload in reused 64 KiB chunks, as fast as the socket takes them; returns the count. */
async function upload(port, bytes) {
  const chunk = Buffer.alloc(CHUNK_BYTES, 'u');
  const req = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/upload',
    agent: false,
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes },
  });
  const answer = new Promise((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res) => {
      let text = '';
      res.setEncoding('latin1');
      res.on('data', (c) => (text += c));
      res.once('end', () => resolve({ status: res.statusCode, text }));
      res.once('error', reject);
    });
  });
  let failed;
  answer.catch((err) => (failed = err));
  for (let left = bytes; left > 0 && !failed && !req.destroyed; left -= CHUNK_BYTES) {
    if (!req.write(left >= CHUNK_BYTES ? chunk : chunk.subarray(0, left))) await once(req, 'drain');
  }
  req.end();
  const { status, text } = await answer;
  if (status !== 200 || text.trim() !== String(bytes)) {
    throw new Error(`upload of ${bytes} bytes answered ${status} ${JSON.stringify(text.slice(0, 200))}`);
  }
}

/** GETs /down?bytes=N and counts what arrives, keeping none of it. */
function download(port, bytes) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: `/down?bytes=${bytes}`, agent: false }, (res) => {
      let received = 0;
      res.on('data', (c) => (received += c.length));
      res.once('end', () =>
        res.statusCode === 200 && received === bytes
          ? resolve()
          : reject(new Error(`download of ${bytes} bytes: status ${res.statusCode}, ${received} bytes`)),
      );
      res.once('error', reject);
    });
    req.once('error', reject);
  });
}

async function measure(name, pids, transfer, bytes) {
  const clientPeak = { kb: 0 };
  const clientTimer = setInterval(
    () => (clientPeak.kb = Math.max(clientPeak.kb, process.memoryUsage().rss / 1024)),
    SAMPLE_MS,
  );
  const sampler = sampleRss(pids);
  const started = process.hrtime.bigint();
  try {
    await transfer();
  } finally {
    clearInterval(clientTimer);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const { peakKb, samples } = sampler.stop();
  await sleep(500);
  return {
    direction: name,
    bytes,
    seconds,
    mibPerSecond: bytes / 2 ** 20 / seconds,
    peakRssKb: peakKb,
    afterRssKb: rssOfKb(pids),
    samples,
    clientPeakRssKb: clientPeak.kb,
  };
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  if (process.platform !== 'linux') throw new Error('this benchmark reads /proc and needs Linux');
  const nginx = findNginx();
  if (!nginx)
    throw new Error('nginx not found; install with: apt-get install nginx (or scripts/install-frontends.sh)');
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli.js')))
    throw new Error('dist/ is missing: run `npm run build`');
  const prefix = makePrefix('memory');
  prefix.keep = options.keep;
  const started = new Date();
  // Generous: 5 MiB/s each way at the very least, plus start-up.
  const budgetS = Math.ceil(((options.bytes * 2) / (5 * 2 ** 20)) * options.protocols.length + 120);
  const watchdog = setTimeout(() => {
    log(`watchdog: the memory benchmark exceeded ${budgetS} s; stopping everything`);
    prefix.finish(false).finally(() => process.exit(1));
  }, budgetS * 1000);
  watchdog.unref();
  let ok = false;
  try {
    const servers = [];
    const upstreams = [];
    const targets = [];
    for (const protocol of options.protocols) {
      const socket = path.join(prefix.dir, 'run', `sluice-${protocol}.sock`);
      const server = await startServer(`sluice-${protocol}`, sluiceArgv(protocol, socket), {
        socketPath: socket,
        logFile: path.join(prefix.dir, 'logs', `sluice-${protocol}.log`),
      });
      const port = await freePort();
      let pass = `unix:${socket}`;
      if (protocol === 'fastcgi') {
        upstreams.push(keepaliveUpstream('sluice_fastcgi', socket, 16));
        pass = 'sluice_fastcgi';
      }
      servers.push({
        comment: `sluice ${protocol}`,
        port,
        locations: location(protocol, pass, nginx.paramsDir),
      });
      targets.push({ protocol, server, port });
    }
    const config = renderNginxConf({ prefix: prefix.dir, servers, upstreams });
    const front = await startNginx(
      nginx,
      prefix.dir,
      config,
      targets.map((t) => t.port),
    );

    const results = [];
    for (const target of targets) {
      const hello = await httpRequest(target.port, { path: '/' });
      if (hello.status !== 200 || hello.body.toString() !== HELLO) {
        throw new Error(`sluice ${target.protocol}: GET / answered ${hello.status}\n${front.errorLog()}`);
      }
      const pids = groupMembers(target.server.pid);
      await sleep(1000);
      const baselineRssKb = rssOfKb(pids);
      log(`sluice ${target.protocol}: pid ${target.server.pid}, baseline RSS ${fmtMiB(baselineRssKb)}`);
      const runs = [];
      runs.push(await measure('upload', pids, () => upload(target.port, options.bytes), options.bytes));
      runs.push(await measure('download', pids, () => download(target.port, options.bytes), options.bytes));
      for (const r of runs) {
        r.growthKb = r.peakRssKb - baselineRssKb;
        r.flat = r.growthKb <= options.maxGrowthMiB * 1024;
        log(
          `sluice ${target.protocol} ${r.direction}: ${fmtMiB(options.bytes / 1024)} in ${r.seconds.toFixed(1)} s ` +
            `(${r.mibPerSecond.toFixed(0)} MiB/s), peak RSS ${fmtMiB(r.peakRssKb)} ` +
            `(+${fmtMiB(r.growthKb)} over the baseline)${r.flat ? '' : ' -> NOT FLAT'}`,
        );
      }
      if (!target.server.running())
        throw new Error(`sluice ${target.protocol} died:\n${target.server.logTail()}`);
      results.push({ protocol: target.protocol, pid: target.server.pid, baselineRssKb, runs });
    }

    const result = {
      date: started.toISOString(),
      machine: { ...machineAndBuild(), nginx: nginx.version },
      options: { ...options, keep: undefined },
      sampleMs: SAMPLE_MS,
      nginxBuffering: Object.fromEntries(
        options.protocols.map((p) => [
          p,
          { requestBuffering: REQUEST_BUFFERING[p], responseBuffering: 'off' },
        ]),
      ),
      results,
      nginxConf: config,
      nginxErrorLog: front.errorLog().trim(),
    };
    const markdown = markdownReport(result);
    fs.mkdirSync(options.outDir, { recursive: true });
    const stamp = started.toISOString().replace(/[:]/g, '').replace(/\..*$/, '').replace('T', '-');
    const base = path.join(options.outDir, `memory-${stamp}`);
    fs.writeFileSync(`${base}.json`, JSON.stringify(result, null, 2) + '\n');
    fs.writeFileSync(`${base}.md`, markdown);
    console.log('\n' + markdown);
    log(`wrote ${base}.json and .md`);
    ok = results.every((r) => r.runs.every((run) => run.flat));
    if (!ok) log(`FAILED: RSS grew by more than ${options.maxGrowthMiB} MiB over the baseline`);
  } finally {
    clearTimeout(watchdog);
    await prefix.finish(ok);
  }
  return ok;
}

function markdownReport(result) {
  const m = result.machine;
  const rows = [
    '| protocol | direction | bytes | time | throughput | baseline RSS | peak RSS | growth | after | client peak RSS | flat |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const r of result.results) {
    for (const run of r.runs) {
      rows.push(
        `| ${r.protocol} | ${run.direction} | ${fmtMiB(run.bytes / 1024)} | ${run.seconds.toFixed(1)} s | ` +
          `${run.mibPerSecond.toFixed(0)} MiB/s | ${fmtMiB(r.baselineRssKb)} | ${fmtMiB(run.peakRssKb)} | ` +
          `${fmtMiB(run.growthKb)} | ${fmtMiB(run.afterRssKb)} | ${fmtMiB(run.clientPeakRssKb)} | ${run.flat ? 'yes' : '**no**'} |`,
      );
    }
  }
  return `# sluice memory benchmark, ${result.date}

Machine: ${m.nproc} CPUs (${m.cpu}), ${m.memGiB} GiB RAM, ${m.kernel}; node ${m.node}, ${m.nginx}; sluice ${m.gitCommit ?? '?'} (dist/ sha256 ${m.distSha256}).

nginx → sluice over a Unix socket; responses unbuffered; request bodies ${Object.entries(
    result.nginxBuffering,
  )
    .map(([p, b]) => `${b.requestBuffering === 'off' ? 'streamed' : 'buffered by nginx first'} (${p})`)
    .join(', ')}. RSS of the sluice process sampled every ${result.sampleMs} ms;
baseline after one request and a second of rest; "flat" means a peak at most ${result.options.maxGrowthMiB} MiB above it.

${rows.join('\n')}
`;
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (err) => {
    console.error(`bench/memory.mjs: ${err.message}`);
    process.exit(1);
  },
);
