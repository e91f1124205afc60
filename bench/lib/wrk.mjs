// One wrk run against one target and route, with what happens around it measured: RSS of the serving
// processes (sampled), CPU of the server, the nginx worker and wrk, and the machine's other load.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../build-info.mjs';
import {
  cpuSecondsOf,
  cpuSecondsOfAll,
  minorFaultsOfAll,
  reapedChildrenCpuSeconds,
  rssOfKb,
  systemCpu,
} from './proc-stats.mjs';
import { pinned, settlesWithin, track } from './processes.mjs';

const WRK_SCRIPT = path.join(ROOT, 'bench', 'wrk-report.lua');
export const RSS_SAMPLE_MS = 200;

/**
 * combo: { id, port, route, bodyFile, mix, servingPids, nginxServes } (nginxServes: the nginx worker
 * is the server, so its CPU is not counted twice; mix: requests to cycle through instead of the
 * route's, as wrk-report.lua reads BENCH_MIX). Resolves to the run's figures; rejects when wrk fails.
 */
export async function runWrk(wrk, options, combo, seconds, nginxWorkerPid) {
  const args = [
    '-t',
    String(options.threads),
    '-c',
    String(options.connections),
    '-d',
    `${seconds}s`,
    '--timeout',
    '10s', // a 10 MiB upload may take longer than wrk's default 2 s under 50 connections
    '--latency',
    '-s',
    WRK_SCRIPT,
    `http://127.0.0.1:${combo.port}${combo.route.path}`,
  ];
  let stdout = '';
  let stderr = '';
  const reaped0 = reapedChildrenCpuSeconds();
  const [command, ...argv] = pinned([wrk, ...args], 'BENCH_CPUS_WRK');
  const child = spawn(command, argv, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      BENCH_BODY_FILE: combo.bodyFile ?? '',
      BENCH_CONTENT_TYPE: combo.route.contentType ?? '',
      BENCH_MIX: combo.mix ?? '',
    },
  });
  const service = {
    name: 'wrk',
    pid: child.pid,
    running: () => child.exitCode === null && child.signalCode === null,
    exited: new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal }))),
  };
  const untrack = track(service);
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));

  const pids = combo.servingPids;
  const cpu0 = { server: cpuSecondsOfAll(pids), nginx: cpuSecondsOf(nginxWorkerPid) };
  const faults0 = minorFaultsOfAll(pids);
  const system0 = systemCpu();
  const self0 = process.cpuUsage();
  let peakRssKb = 0;
  let wrkCpuSampled = 0; // fallback: the last sample before wrk exits, short by up to one interval
  const sample = () => {
    peakRssKb = Math.max(peakRssKb, rssOfKb(pids));
    wrkCpuSampled = cpuSecondsOf(child.pid) ?? wrkCpuSampled;
  };
  sample();
  const sampler = setInterval(sample, RSS_SAMPLE_MS);
  const limitMs = (seconds + 30) * 1000;
  const finished = await settlesWithin(service.exited, limitMs);
  clearInterval(sampler);
  sample();
  const cpu1 = { server: cpuSecondsOfAll(pids), nginx: cpuSecondsOf(nginxWorkerPid) };
  const serverFaults = minorFaultsOfAll(pids) - faults0;
  const system1 = systemCpu();
  const self = process.cpuUsage(self0);
  if (!finished) {
    await service.stop();
    throw new Error(`wrk against ${combo.id} did not finish within ${limitMs / 1000} s`);
  }
  untrack();
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
  const server = cpu1.server - cpu0.server;
  const nginxWorker =
    cpu1.nginx !== undefined && cpu0.nginx !== undefined ? cpu1.nginx - cpu0.nginx : undefined;
  const wall = system1.total - system0.total; // core-seconds that passed
  const busy = system1.busy - system0.busy;
  const ours =
    server + (combo.nginxServes ? 0 : (nginxWorker ?? 0)) + wrkCpu + (self.user + self.system) / 1e6;
  return {
    seconds,
    requests: raw.requests,
    rps: raw.requests / (raw.duration_us / 1e6),
    bytesRead: raw.bytes,
    latencyUs: raw.latency_us,
    non2xx: e.status, // wrk counts responses with status > 399 ("Non-2xx or 3xx responses")
    socketErrors: { connect: e.connect, read: e.read, write: e.write, timeout: e.timeout },
    socketErrorTotal: e.connect + e.read + e.write + e.timeout,
    peakRssKb,
    cpuSeconds: { server, nginxWorker, wrk: wrkCpu },
    minorFaults: { server: serverFaults },
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
