// The multi-host rig: sluice hosts in their own network namespaces behind nginx or HAProxy, and the
// scenarios run against them under a paced load, each returning its figures (requests, failures by
// kind, how long clients felt the event). test/multihost/pool.test.ts states the criteria.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT, SLUICE_BIN, requireRoot, startDaemon, type Daemon } from '../helpers/daemon';
import { pidAlive, requireBinary } from '../helpers/frontends';
import {
  hostFlags,
  rejoinMs,
  startPool,
  waitUntil,
  type PoolFrontEnd,
  type PoolFrontEndName,
} from './frontends';
import { Load, tally, type Sample, type Tally } from './load';
import { canMakeNamespaces, Network, type Backend } from './network';

const APP = path.join(REPO_ROOT, 'test', 'multihost', 'app.mjs');
const PORT = 9000;
/** A request slower than this felt the event (the pool answers in a few ms otherwise). */
const AFFECTED_MS = 500;
/**
 * How long a front end may take to see that a dead host closed its kept-alive connections: until
 * it handles those events, it may still write a request on one of them (a POST then fails: it was
 * sent to the dead host). Tens of milliseconds on a loaded machine.
 */
export const CLOSE_SEEN_MS = 200;

/**
 * Whether the rig can run here: root, network namespaces, nginx and HAProxy. Elsewhere it is
 * skipped with a warning; under CI=true each missing piece is a failure (it throws).
 */
export function rigAvailable(): boolean {
  if (!requireRoot('the multi-host rig tests')) return false;
  const namespaces = canMakeNamespaces();
  if (!namespaces.ok) {
    const message = `the multi-host rig needs network namespaces: ${namespaces.reason}`;
    if (process.env.CI === 'true') throw new Error(`${message}; CI=true, so this is a failure`);
    console.warn(`skipping ${message}`);
    return false;
  }
  return requireBinary('nginx') && requireBinary('haproxy');
}

/** One sluice host: `sluice serve` on TCP in its namespace, 2 workers, answering the front end alone. */
export class Host {
  daemon: Daemon | undefined;

  constructor(
    readonly name: Backend,
    private readonly network: Network,
  ) {}

  get address(): string {
    return `${this.network.address(this.name)}:${PORT}`;
  }

  /** Options the front end's pool config asks of each host, beyond the rig's own. */
  flags: string[] = [];

  async start(): Promise<void> {
    const args = ['--fastcgi', this.address, '--workers', '2'];
    args.push('--allow', this.network.address('fe'), '--ping-path', '/ping', ...this.flags);
    this.daemon = await startDaemon(APP, args, {
      launcher: this.network.launcher(this.name),
      env: { RIG_HOST: this.name },
    });
  }

  /** SIGTERM: stops gracefully; resolves with the exit code. */
  async stop(): Promise<number | null> {
    const code = (await this.daemon?.stop('SIGTERM', 30_000)) ?? null;
    this.daemon = undefined;
    return code;
  }

  /**
   * kill -9 of the primary and its workers at once; resolves with the moment the last of them was
   * seen gone (its sockets closed), polled every few milliseconds.
   */
  async crash(): Promise<number> {
    const daemon = this.daemon!;
    const pids = [...childrenOf(daemon.pid), daemon.pid];
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await daemon.exited;
    while (pids.some(pidAlive)) await new Promise((resolve) => setTimeout(resolve, 2));
    this.daemon = undefined;
    return performance.now();
  }

  /** SIGHUP, then waits for the primary's "reloaded" line. */
  async reload(): Promise<void> {
    const daemon = this.daemon!;
    const reloads = () => daemon.logLines().filter((line) => line.msg === 'reloaded').length;
    const before = reloads();
    daemon.child.kill('SIGHUP');
    await waitUntil(`${this.name} reloaded`, () => reloads() > before, 30_000);
  }
}

function childrenOf(pid: number): number[] {
  const text = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text === '' ? [] : text.split(' ').map(Number);
}

/** One row of the figures: a scenario's counts and timings through one front end. */
export interface Figure extends Tally {
  frontEnd: PoolFrontEndName;
  scenario: string;
  /** From the event until the last request that felt it ended (failed, or slower than 500 ms). */
  failoverMs?: number;
  /** From the link coming back until the host served again. */
  recoveryMs?: number;
  note?: string;
}

/** Milliseconds from `event` until the end of the last request that started after it and felt it. */
function felt(samples: readonly Sample[], event: number, until = Infinity): number {
  let last = event;
  for (const sample of samples) {
    if (sample.start < event - AFFECTED_MS * 2 || sample.start > until) continue;
    if (sample.failure !== null || sample.end - sample.start > AFFECTED_MS) last = Math.max(last, sample.end);
  }
  return Math.round(last - event);
}

export class Rig {
  readonly network = new Network();
  readonly hosts: Record<Backend, Host>;
  readonly figures: Figure[] = [];
  frontEnd: PoolFrontEnd | undefined;

  constructor() {
    this.hosts = {
      h1: new Host('h1', this.network),
      h2: new Host('h2', this.network),
      h3: new Host('h3', this.network),
    };
  }

  /** Builds the network and starts the two pool hosts (h3 is the spare a scenario adds). */
  async start(): Promise<void> {
    this.network.create();
    await Promise.all([this.hosts.h1.start(), this.hosts.h2.start()]);
  }

  async remove(): Promise<void> {
    await this.frontEnd?.stop();
    await Promise.all(Object.values(this.hosts).map((host) => host.stop()));
    this.network.remove();
  }

  /**
   * Starts `name` over h1 and h2, first restarting them with the flags its pool config asks of
   * hosts if those changed.
   */
  async useFrontEnd(name: PoolFrontEndName): Promise<PoolFrontEnd> {
    await this.frontEnd?.stop();
    const flags = hostFlags(name);
    for (const host of Object.values(this.hosts)) {
      if (host.flags.join(' ') === flags.join(' ')) continue;
      host.flags = flags;
      if (host.daemon !== undefined) {
        await host.stop();
        await host.start();
      }
    }
    this.frontEnd = await startPool(name, this.network, ['h1', 'h2']);
    return this.frontEnd;
  }

  private record(figure: Figure): Figure {
    this.figures.push(figure);
    return figure;
  }

  /**
   * Runs `action` under load, once every host in `serving` answered, and returns the samples of
   * requests that started from the action on.
   */
  private async underLoad(
    serving: readonly Backend[],
    action: (load: Load) => Promise<void>,
  ): Promise<{ samples: Sample[] }> {
    const load = new Load(this.frontEnd!.socketPath);
    let since = 0;
    try {
      const begun = performance.now();
      await waitUntil(
        `${serving.join(' and ')} take traffic`,
        () => serving.every((host) => load.served(host, begun)),
        15_000,
      );
      since = performance.now();
      await action(load);
    } finally {
      await load.stop();
    }
    return { samples: load.samples.filter((sample) => sample.start >= since) };
  }

  /** Both hosts serve and share a few seconds of load. */
  async share(requests = 400): Promise<Figure> {
    const { samples } = await this.underLoad(['h1', 'h2'], async (load) => {
      const target = load.count + requests;
      await waitUntil(`${requests} requests`, () => load.count >= target, 30_000);
    });
    return this.record({ frontEnd: this.frontEnd!.name, scenario: 'share', ...tally(samples) });
  }

  /**
   * One run of a rolling restart: a graceful stop (SIGTERM) of `name` under load, then a start,
   * gated on the host being back in rotation.
   */
  async restart(name: Backend): Promise<Tally> {
    const { samples } = await this.underLoad(['h1', 'h2'], async (load) => {
      const code = await this.hosts[name].stop();
      if (code !== 0) throw new Error(`${name} exited with ${code} after SIGTERM`);
      await this.hosts[name].start();
      await this.backInRotation(load, name);
    });
    return tally(samples);
  }

  /** SIGHUP of every host in turn, each gated on its reload and on traffic reaching it. */
  async rollingReload(): Promise<Figure> {
    const { samples } = await this.underLoad(['h1', 'h2'], async (load) => {
      for (const name of ['h1', 'h2'] as const) {
        await this.hosts[name].reload();
        await this.backInRotation(load, name);
      }
    });
    return this.record({
      frontEnd: this.frontEnd!.name,
      scenario: 'rolling reload (SIGHUP)',
      ...tally(samples),
    });
  }

  /**
   * kill -9 of h1 under load; h1 is started again afterwards. Returns the figure and the failures of
   * requests that started later than `CLOSE_SEEN_MS` after h1 was gone.
   */
  async crash(): Promise<{ figure: Figure; failedLate: number }> {
    let killedAt = 0;
    let goneAt = 0;
    let postsInFlight = 0;
    const { samples } = await this.underLoad(['h1', 'h2'], async (load) => {
      postsInFlight = load.inFlight.POST;
      killedAt = performance.now();
      goneAt = await this.hosts.h1.crash();
      await this.settle(load, killedAt);
    });
    const failed = samples.filter((s) => s.failure !== null);
    const offsets = failed.map((s) => Math.round(s.start - killedAt));
    const figure = this.record({
      frontEnd: this.frontEnd!.name,
      scenario: 'crash (kill -9)',
      ...tally(samples),
      failoverMs: felt(samples, killedAt),
      note:
        `${postsInFlight} POSTs in flight at the kill, h1 gone ${Math.round(goneAt - killedAt)} ms later` +
        (failed.length > 0 ? `; failures started at ${offsets.join(', ')} ms` : ''),
    });
    await this.hosts.h1.start();
    return { figure, failedLate: failed.filter((s) => s.start > goneAt + CLOSE_SEEN_MS).length };
  }

  /** h1's link down under load until the front end has left it, then up until h1 serves again. */
  async partition(): Promise<{ cut: Figure; healed: Figure }> {
    let cutAt = 0;
    let upAt = 0;
    let back = 0;
    const { samples } = await this.underLoad(['h1', 'h2'], async (load) => {
      cutAt = performance.now();
      this.network.linkDown('h1');
      try {
        await this.settle(load, cutAt);
      } finally {
        this.network.linkUp('h1');
      }
      upAt = performance.now();
      await waitUntil('h1 serves again after the link came back', () => load.served('h1', upAt), 30_000);
      back = Math.min(...load.samples.filter((s) => s.host === 'h1' && s.start > upAt).map((s) => s.start));
      // A little load after the return, to see it cost nothing.
      const target = load.count + 100;
      await waitUntil('100 more requests', () => load.count >= target, 30_000);
    });
    const name = this.frontEnd!.name;
    const cut = this.record({
      frontEnd: name,
      scenario: 'partition (link down)',
      ...tally(samples, (s) => s.start < upAt),
      failoverMs: felt(samples, cutAt, upAt),
    });
    const healed = this.record({
      frontEnd: name,
      scenario: 'partition healed (link up)',
      ...tally(samples, (s) => s.start >= upAt),
      recoveryMs: Math.round(back - upAt),
    });
    return { cut, healed };
  }

  /** Starts h3, adds it to the pool by a graceful front-end reload, and waits until it serves. */
  async addHost(): Promise<Figure> {
    await this.hosts.h3.start();
    let reloadedAt = 0;
    const { samples } = await this.underLoad(['h1', 'h2'], async (load) => {
      reloadedAt = performance.now();
      await this.frontEnd!.reload(['h1', 'h2', 'h3']);
      await waitUntil('h3 takes traffic', () => load.served('h3', reloadedAt), 15_000);
      const target = load.count + 200;
      await waitUntil('200 more requests', () => load.count >= target, 30_000);
    });
    const figure = this.record({
      frontEnd: this.frontEnd!.name,
      scenario: 'host added (front-end reload)',
      ...tally(samples),
    });
    await this.hosts.h3.stop();
    return figure;
  }

  /**
   * The gate of a rolling deploy: the host serves again, and has been up for as long as the front
   * end may still keep it out (rejoinMs), so the next host can go without leaving it no live one.
   */
  private async backInRotation(load: Load, host: Backend): Promise<void> {
    const since = performance.now();
    const rejoin = rejoinMs(this.frontEnd!.name);
    await waitUntil(
      `${host} is back in rotation`,
      () => load.served(host, since) && performance.now() - since >= rejoin,
      30_000,
    );
  }

  /**
   * Waits until clients stopped feeling an event: 1.5 s in a row (and at least 100 requests) in
   * which every request answered well and fast, within 30 s.
   */
  private async settle(load: Load, event: number): Promise<void> {
    const quietMs = 1500;
    const startCount = load.count;
    await waitUntil(
      'the front end stops sending to the lost host',
      () => {
        const now = performance.now();
        return load.count - startCount >= 100 && now - event - felt(load.samples, event) > quietMs;
      },
      30_000,
    );
  }

  /**
   * `sluice request` from the stranger's namespace straight to h1: its exit code, and h1's log
   * lines about refusing it (waited for: a worker logs it as it closes the connection).
   */
  async strangerRequest(): Promise<{ status: number | null; refusals: Array<Record<string, unknown>> }> {
    const daemon = this.hosts.h1.daemon!;
    const launcher = this.network.launcher('peer');
    const before = daemon.logLines().length;
    const refusals = () =>
      daemon
        .logLines()
        .slice(before)
        .filter((line) => line.msg === 'connection from a peer not in --allow refused');
    const argv = [...launcher.slice(1), process.execPath, SLUICE_BIN, 'request'];
    argv.push('--connect', this.hosts.h1.address, '--timeout', '5', '/ping');
    const result = spawnSync(launcher[0]!, argv, { encoding: 'utf8', timeout: 20_000 });
    await waitUntil('h1 logs the refusal', () => refusals().length > 0, 10_000);
    return { status: result.status, refusals: refusals() };
  }
}

/** The figures as a fixed-width table, one row per front end and scenario. */
export function figuresTable(figures: readonly Figure[]): string {
  const header = [
    'front end',
    'scenario',
    'requests',
    'failed GETs',
    'failed POSTs',
    'failover ms',
    'back ms',
    'share',
    'failures',
  ];
  const rows = figures.map((f) => [
    f.frontEnd,
    f.scenario,
    String(f.requests),
    String(f.failedGets),
    String(f.failedPosts),
    f.failoverMs === undefined ? '' : String(f.failoverMs),
    f.recoveryMs === undefined ? '' : String(f.recoveryMs),
    Object.entries(f.share)
      .sort()
      .map(([host, n]) => `${host} ${n}`)
      .join(', '),
    [...Object.entries(f.failures).map(([kind, n]) => `${n} ${kind}`), f.note ?? '']
      .filter(Boolean)
      .join('; '),
  ]);
  const widths = header.map((_, i) => Math.max(header[i]!.length, ...rows.map((row) => row[i]!.length)));
  return [header, ...rows].map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')).join('\n');
}
