// Runs fault scenarios against one daemon and checks, after each, what the daemon must be back to:
// normal requests answered over both protocols (and none lost while the fault went on), its
// processes' open descriptors at their baseline, resident memory within 10 MiB of it, no request
// left active, no worker gone.
import * as fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fcgiParams, fcgiRequest } from '../helpers/fastcgi';
import { startDaemon, tempSocketPath, type Daemon } from '../helpers/daemon';
import { fastcgiLoop, scgiLoop } from '../helpers/loops';
import {
  describeDescriptors,
  descriptorsBackTo,
  mebibytes,
  MiB,
  residentBackTo,
  residentBytes,
  settledDescriptors,
} from '../helpers/process-resources';
import { requestVariables, scgiRequest } from '../helpers/scgi';

/** `npm run faults`: every count larger; the default keeps the suite to seconds per scenario. */
export const FULL = process.env.SLUICE_FAULTS_FULL === '1';
export const scaled = (short: number, full: number): number => (FULL ? full : short);

export const APP = 'test/fixtures/apps/probe.mjs';
export const HEADER_TIMEOUT_MS = 1500;
export const REQUEST_TIMEOUT_MS = 1500;
export const MAX_HEADER_BYTES = 8192;
export const MAX_PARAMS_BYTES = 8192;
export const MAX_BODY_BYTES = 65536;
const RSS_ALLOWANCE = 10 * MiB;
const RSS_SETTLE_MS = 30_000;
const WARM_UP_ROUNDS = 10;
/**
 * Runs of one scenario at most, while each grows memory by half the allowance or more. The daemon
 * runs without V8's allocation-site pretenuring (src/process/engine-flags.ts), so objects that live
 * through a burst are copied through the young generation, which V8 then grows step by step: a
 * worker took up to six bursts of 1,200 concurrent connections to settle (10.6, 2.5, 6.8, 3.9, 3.8,
 * 3.5 MiB, then under 2 MiB for eight more runs). A leak grows on every run, however many.
 */
const MAX_RUNS = 8;
/** Idle long enough for the daemon's idle collection: a second without requests, then a sweep. */
const IDLE_SETTLE_MS = 2500;
const WARM_UP_ROUND_MS = 3000;
const WARM_UP_BURST = 300;

/** The daemon under test, listening for both protocols on a Unix socket and on loopback TCP each. */
export interface FaultTarget {
  daemon: Daemon;
  scgi: { unix: string; tcp: string };
  fastcgi: { unix: string; tcp: string };
  /** The primary (or only) process and its workers. */
  pids: number[];
  /** Log lines so far, from the daemon and its workers. */
  logLines(): Array<Record<string, unknown>>;
}

export interface FaultScenario {
  name: string;
  /** Injects the fault, checks the daemon's answer to it, resolves with how many faults went in. */
  inject(target: FaultTarget): Promise<number>;
}

export interface ScenarioReport {
  mode: string;
  scenario: string;
  /** Runs of the scenario: repeated while memory grew (see runScenario). */
  runs: number;
  faults: number;
  normalSent: number;
  normalAnswered: number;
  /** Normal requests sent during the fault that got no complete 200 response. */
  lost: number;
  crashes: number;
  descriptorsBefore: number;
  descriptorsAfter: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  seconds: number;
}

export async function startTarget(workers: number): Promise<FaultTarget> {
  const scgiUnix = tempSocketPath('scgi.sock');
  const fastcgiUnix = tempSocketPath('fastcgi.sock');
  const daemon = await startDaemon(APP, [
    ...['--workers', String(workers)],
    ...['--scgi', `unix:${scgiUnix}`, '--scgi', '127.0.0.1:0'],
    ...['--fastcgi', `unix:${fastcgiUnix}`, '--fastcgi', '127.0.0.1:0'],
    ...['--header-timeout', String(HEADER_TIMEOUT_MS), '--request-timeout', String(REQUEST_TIMEOUT_MS)],
    ...['--max-header-bytes', String(MAX_HEADER_BYTES), '--max-params-bytes', String(MAX_PARAMS_BYTES)],
    ...['--max-body-bytes', String(MAX_BODY_BYTES)],
    // Room for the thousand connections that arrive at once; the kernel caps it at somaxconn.
    ...['--listen-backlog', '4096'],
    ...['--status-path', '/sluice-status'],
  ]);
  const tcp = (protocol: 'scgi' | 'fastcgi'): string => {
    const address = daemon.addresses[protocol]?.find((a) => !a.startsWith('unix:'));
    if (address === undefined) throw new Error(`no TCP ${protocol} listener logged`);
    return address;
  };
  const workerPids = daemon
    .logLines()
    .filter((l) => l.msg === 'worker started')
    .map((l) => Number(l.workerPid));
  if (workerPids.length !== workers) throw new Error(`${workerPids.length} workers started, not ${workers}`);
  return {
    daemon,
    scgi: { unix: `unix:${scgiUnix}`, tcp: tcp('scgi') },
    fastcgi: { unix: `unix:${fastcgiUnix}`, tcp: tcp('fastcgi') },
    pids: [daemon.pid, ...workerPids],
    logLines: () => daemon.logLines(),
  };
}

interface Baseline {
  descriptors: number[];
}

/**
 * Normal traffic in rounds until no process's memory grew by more than a mebibyte in a round (the
 * heap has reached its working size), then each process's settled descriptors: a fault is judged
 * against a warm daemon, not against one that never ran a request.
 */
export async function baselineOf(target: FaultTarget): Promise<Baseline> {
  let resident = target.pids.map(residentBytes);
  for (let round = 0; round < WARM_UP_ROUNDS; round++) {
    const loops = [scgiLoop(target.scgi.unix), fastcgiLoop(target.fastcgi.tcp)];
    // A burst as well as a steady trickle: the engine sizes its young generation to the busiest moment.
    await Promise.all(
      Array.from({ length: WARM_UP_BURST }, (_, i) =>
        i % 2 === 0
          ? scgiRequest(target.scgi.tcp, requestVariables('GET', '/env'))
          : fcgiRequest(target.fastcgi.unix, { params: fcgiParams('GET', '/env'), keepConn: false }),
      ),
    );
    await sleep(WARM_UP_ROUND_MS);
    await Promise.all(loops.map((l) => l.stop()));
    const now = target.pids.map(residentBytes);
    const grown = Math.max(...now.map((bytes, i) => bytes - resident[i]));
    resident = now;
    if (grown < MiB) break;
  }
  await sleep(500);
  const descriptors = await Promise.all(target.pids.map(settledDescriptors));
  return { descriptors };
}

/** One normal request over each protocol and transport: all 200. */
export async function normalRequestsAnswered(target: FaultTarget): Promise<void> {
  for (const address of [target.scgi.unix, target.scgi.tcp]) {
    expect((await scgiRequest(address, requestVariables('GET', '/env'))).status).toBe(200);
  }
  for (const address of [target.fastcgi.unix, target.fastcgi.tcp]) {
    const reply = await fcgiRequest(address, { params: fcgiParams('GET', '/env'), keepConn: false });
    expect(reply.response().status).toBe(200);
    expect(reply.end?.protocolStatus).toBe(0);
  }
}

async function statusTotals(target: FaultTarget): Promise<Record<string, number>> {
  const response = await scgiRequest(target.scgi.unix, requestVariables('GET', '/sluice-status'));
  return (JSON.parse(response.body.toString()) as { totals: Record<string, number> }).totals;
}

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);

/** Injects the scenario's faults with normal traffic going on; every normal request must be answered. */
async function injectUnderTraffic(
  target: FaultTarget,
  scenario: FaultScenario,
): Promise<{ faults: number; normalSent: number; lost: number }> {
  const loops = [scgiLoop(target.scgi.unix), fastcgiLoop(target.fastcgi.tcp)];
  const faults = await scenario.inject(target);
  const normal = await Promise.all(loops.map((l) => l.stop()));
  expect(normal.flatMap((r) => r.errors)).toEqual([]);
  const normalSent = sum(normal.map((r) => r.sent));
  expect(normalSent).toBeGreaterThan(0);
  return { faults, normalSent, lost: sum(normal.map((r) => r.failed)) };
}

/**
 * Runs `scenario` with normal traffic going on, then checks the daemon is back where it was: see
 * the file's comment. The first runs of a kind of load grow what the engine keeps for it (its
 * young generation is sized to the busiest moment, its old generation to what survived), which is
 * not what a fault leaves behind: the scenario is run again while a run grows resident memory by
 * half the allowance or more, up to MAX_RUNS; memory is judged on the last run, against what the
 * process held idle before it, and growing that much on every run is a leak. Descriptors are
 * judged against the daemon's baseline from before any fault.
 */
export async function runScenario(
  mode: string,
  target: FaultTarget,
  baseline: Baseline,
  scenario: FaultScenario,
): Promise<ScenarioReport> {
  const started = Date.now();
  const settle = (): Promise<void> => sleep(IDLE_SETTLE_MS);
  await settle();
  let residentBefore = target.pids.map(residentBytes);
  let faults = 0;
  let normalSent = 0;
  let lost = 0;
  const growth: number[] = [];
  for (;;) {
    const run = await injectUnderTraffic(target, scenario);
    faults += run.faults;
    normalSent += run.normalSent;
    lost += run.lost;
    await settle();
    const resident = target.pids.map(residentBytes);
    growth.push(Math.max(...resident.map((bytes, i) => bytes - residentBefore[i])));
    if (growth[growth.length - 1] < RSS_ALLOWANCE / 2 || growth.length === MAX_RUNS) break;
    residentBefore = resident;
  }
  // Grown as much on every run: not the engine settling into a kind of load, a leak.
  const leaking = growth.length === MAX_RUNS && growth.every((g) => g >= RSS_ALLOWANCE / 2);

  await normalRequestsAnswered(target);
  const descriptorsAfter = await Promise.all(
    target.pids.map((pid, i) => descriptorsBackTo(pid, baseline.descriptors[i])),
  );
  const residentAfter = await Promise.all(
    target.pids.map((pid, i) => residentBackTo(pid, residentBefore[i] + RSS_ALLOWANCE, RSS_SETTLE_MS)),
  );
  const problems = [
    ...(leaking
      ? [`resident memory grew on each of ${MAX_RUNS} runs: ${growth.map(mebibytes).join(', ')} MiB`]
      : []),
    ...target.pids.flatMap((pid, i) => [
      ...(descriptorsAfter[i] > baseline.descriptors[i]
        ? [
            `process ${pid}: ${descriptorsAfter[i]} descriptors open, ${baseline.descriptors[i]} before: ${JSON.stringify(describeDescriptors(pid))}`,
          ]
        : []),
      ...(residentAfter[i] > residentBefore[i] + RSS_ALLOWANCE
        ? [
            `process ${pid}: ${mebibytes(residentAfter[i])} MiB resident after ${RSS_SETTLE_MS} ms, ${mebibytes(residentBefore[i])} before`,
          ]
        : []),
    ]),
  ];
  expect(problems).toEqual([]);
  // The status request is the one in flight.
  expect(await statusTotals(target)).toMatchObject({ active: 1 });
  const crashes = target.logLines().filter((l) => l.msg === 'worker exited').length;
  expect(crashes).toBe(0);
  expect(target.daemon.child.exitCode).toBeNull();
  return {
    mode,
    scenario: scenario.name,
    runs: growth.length,
    faults,
    normalSent,
    normalAnswered: normalSent - lost,
    lost,
    crashes,
    descriptorsBefore: sum(baseline.descriptors),
    descriptorsAfter: sum(descriptorsAfter),
    rssBeforeMiB: mebibytes(sum(residentBefore)),
    rssAfterMiB: mebibytes(sum(residentAfter)),
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

/** Prints the reports as a table and, with SLUICE_FAULTS_REPORT=FILE, writes them there as JSON. */
export function publish(reports: ScenarioReport[]): void {
  if (reports.length === 0) return;
  const columns = Object.keys(reports[0]) as Array<keyof ScenarioReport>;
  const rows = [columns.map(String), ...reports.map((r) => columns.map((c) => String(r[c])))];
  const widths = columns.map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const table = rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join('  ')).join('\n');
  process.stdout.write(`\nfault suite (${FULL ? 'full' : 'short'}):\n${table}\n`);
  const file = process.env.SLUICE_FAULTS_REPORT;
  if (file !== undefined && file !== '') {
    fs.writeFileSync(
      file,
      JSON.stringify({ full: FULL, at: new Date().toISOString(), reports }, null, 2) + '\n',
    );
  }
}
