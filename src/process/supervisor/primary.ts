// The primary: owns the listeners, runs N workers, replaces the dead with backoff, reloads and stops them; never runs app code.
import cluster, { type Worker } from 'node:cluster';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { Daemon, type ListenerProtocol, type ListenerSpec } from '../daemon';
import { workerExecArgv } from '../engine-flags';
import { EXIT } from '../exit-codes';
import type { ListenAddress } from '../../common/address';
import { removeOwnSocketFile, removeStaleSocket, type OwnSocketFile } from '../socket-file';
import { socketOptionsOf } from '../serving';
import {
  canHoldSockets,
  holdSockets,
  inheritedHandle,
  type HeldSocket,
  type ServerHandle,
} from './held-sockets';
import { addCounters, emptyCounters, type Counters } from '../../runtime/meter';
import type { ServeOptions } from '../../settings/options';
import { SD_LISTEN_FDS_START } from '../socket-activation';
import { buildStatus, listenerStatuses, type DaemonStatus, type WorkerState } from '../../status/snapshot';
import { VERSION } from '../../common/version';
import { CrashHistory } from './backoff';
import { stopReading } from './stop-reading';
import { isMessage, WORKER_SPEC_VARIABLE, type ToPrimary, type ToWorker, type WorkerSpec } from './messages';

/** How long a worker may take to answer `stats?` before the status goes without it. */
const STATS_TIMEOUT_MS = 1000;
/** After --drain-timeout, how long a stopping or retiring worker has left before SIGKILL. */
const KILL_GRACE_MS = 5000;

interface WorkerInfo {
  readonly worker: Worker;
  readonly slot: number;
  readonly generation: number;
  readonly startedAt: Date;
  state: WorkerState;
  /** Set once it answered `ready`, or exited first. */
  settle: ((ready: boolean) => void) | null;
  readonly ready: Promise<boolean>;
  exitCode: number | null;
  /** Being replaced (reload or recycle): its death is no crash. */
  replaced: boolean;
  /** Its counters as last reported (`stats` or `final`), kept in the totals once it is gone. */
  counters: Counters | null;
}

export interface PrimaryOptions {
  readonly options: ServeOptions;
  readonly listeners: readonly ListenerSpec[];
  readonly log: Logger;
  /** The options a reload applies: the config file read again, under the same flags. */
  readonly reread: () => ServeOptions;
}

export class Primary {
  private options: ServeOptions;
  private readonly listeners: readonly ListenerSpec[];
  private readonly log: Logger;
  private readonly workers = new Map<number, WorkerInfo>();
  private slots: CrashHistory[] = [];
  private generation = 1;
  /** Counters of the workers gone (retired, recycled, dead), so that totals never go back. */
  private readonly goneCounters = emptyCounters();
  private reloads = 0;
  private recycles = 0;
  private started = false;
  private reloading = false;
  private stopping = false;
  /** Runs out the --stop-grace of a stop; a second signal meanwhile kills at once. */
  private graceTimer: NodeJS.Timeout | null = null;
  private bound: readonly ListenAddress[] = [];
  /** What workers listen on: held and inherited sockets as descriptors. */
  private workerListeners: readonly ListenerSpec[];
  private readonly held: HeldSocket[] = [];
  /** The socket files put in place by this process. */
  private readonly ownFiles: OwnSocketFile[] = [];
  /** A handle on each worker listener's socket, in order, for workers that closed their copies. */
  private listenerHandles: ServerHandle[] = [];
  private readonly startedAt = new Date();
  private lastRequestId = 0;
  private readonly statsWaiters = new Map<
    number,
    (stats: { counters: Counters; rssBytes: number }) => void
  >();
  private nextAdopter = 0;
  private finish: (code: number) => void = () => undefined;
  /** Resolves with the daemon's exit code. */
  readonly exited = new Promise<number>((resolve) => (this.finish = resolve));

  constructor(private readonly setup: PrimaryOptions) {
    this.options = setup.options;
    this.listeners = setup.listeners;
    this.log = setup.log;
    this.workerListeners = this.listeners;
  }

  /**
   * Every listener's socket stays open in this process, so that a worker dying never closes it:
   * inherited ones as they came, the others bound here (see held-sockets.ts). Workers get them at
   * fixed descriptor numbers, inherited ones at their own (the IPC channel after them all).
   */
  private async holdListeners(): Promise<void> {
    const inherited = this.listeners.flatMap((l) =>
      l.address.kind === 'fd' && l.address.fd >= SD_LISTEN_FDS_START ? [l.address.fd] : [],
    );
    const highest = inherited.length === 0 ? SD_LISTEN_FDS_START - 1 : Math.max(...inherited);
    const passed: Array<number | 'ignore'> = Array.from(
      { length: highest - SD_LISTEN_FDS_START + 1 },
      (_, i) => (inherited.includes(SD_LISTEN_FDS_START + i) ? SD_LISTEN_FDS_START + i : 'ignore'),
    );
    // One below 3 (a spawning web server's fd 0) would be the worker's stdin: it goes after them.
    const renumbered = new Map<number, number>();
    for (const { address } of this.listeners) {
      if (address.kind !== 'fd' || address.fd >= SD_LISTEN_FDS_START || renumbered.has(address.fd)) continue;
      passed.push(address.fd);
      renumbered.set(address.fd, SD_LISTEN_FDS_START + passed.length - 1);
    }
    const inWorker = (listener: ListenerSpec): ListenerSpec =>
      listener.address.kind === 'fd' && renumbered.has(listener.address.fd)
        ? { ...listener, address: { ...listener.address, fd: renumbered.get(listener.address.fd)! } }
        : listener;
    this.workerListeners = this.listeners.map(inWorker);
    // Round robin (NODE_CLUSTER_SCHED_POLICY=rr) needs node:cluster to own the listeners: it accepts.
    if (canHoldSockets() && process.env.NODE_CLUSTER_SCHED_POLICY !== 'rr') {
      const held = await holdSockets(
        this.listeners.flatMap((l) => (l.address.kind === 'fd' ? [] : [l.address])),
        socketOptionsOf(this.options, false),
      );
      this.held.push(...held);
      for (const socket of held) if (socket.file !== null) this.ownFiles.push(socket.file);
      let next = 0;
      const workerListeners: ListenerSpec[] = [];
      const bound: ListenAddress[] = [];
      for (const listener of this.listeners) {
        if (listener.address.kind === 'fd') {
          workerListeners.push(inWorker(listener));
          bound.push(listener.address);
          this.listenerHandles.push(inheritedHandle(listener.address.fd));
          continue;
        }
        const socket = held[next++];
        this.listenerHandles.push(socket.handle);
        passed.push(socket.fd);
        const fd = SD_LISTEN_FDS_START + passed.length - 1;
        workerListeners.push({ ...listener, address: { kind: 'fd', fd, name: listener.protocol } });
        bound.push(socket.address);
      }
      this.workerListeners = workerListeners;
      this.bound = bound;
    } else {
      // node:cluster binds each path when the first worker listens, and removes it when the last one
      // closes: a stale socket file would be in the way.
      for (const { address } of this.listeners)
        if (address.kind === 'unix')
          await removeStaleSocket(address.path, socketOptionsOf(this.options, false).takeoverWaitMs);
    }
    // Measured in bench/workers.mjs: workers accepting themselves beats the primary passing each
    // connection on (docs/deploy.md). NODE_CLUSTER_SCHED_POLICY=rr still chooses round robin for
    // listeners node:cluster shares. Set before setupPrimary(), which freezes the policy.
    if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({
      execArgv: workerExecArgv(),
      stdio: ['ignore', 'inherit', 'inherit', ...passed, 'ipc'],
    });
  }

  /** Starts every worker; resolves with null once all serve, or the exit code if one could not start. */
  async start(): Promise<number | null> {
    try {
      await this.holdListeners();
    } catch (error) {
      await this.cleanUp();
      throw error;
    }
    this.slots = Array.from({ length: this.options.workers }, () => new CrashHistory());
    const first = this.slots.map((_, i) => this.fork(i + 1));
    const ready = await Promise.all(first.map((w) => w.ready));
    if (ready.every(Boolean)) {
      this.started = true;
      Daemon.logListening(this.log, this.listeners, this.bound);
      return null;
    }
    const failed = first.find((w) => w.exitCode !== null && w.exitCode !== 0);
    for (const w of this.workers.values()) w.worker.kill('SIGKILL');
    await this.allExited();
    await this.cleanUp();
    return failed?.exitCode === EXIT.USAGE ? EXIT.USAGE : EXIT.FAILURE;
  }

  private fork(slot: number): WorkerInfo {
    const spec: WorkerSpec = {
      slot,
      generation: this.generation,
      options: this.options,
      listeners: this.workerListeners,
      listenersHeld: this.listenerHandles.length > 0,
    };
    const worker = cluster.fork({ [WORKER_SPEC_VARIABLE]: JSON.stringify(spec) });
    let settle: (ready: boolean) => void = () => undefined;
    const ready = new Promise<boolean>((resolve) => (settle = resolve));
    const info: WorkerInfo = {
      worker,
      slot,
      generation: this.generation,
      startedAt: new Date(),
      state: 'starting',
      settle,
      ready,
      exitCode: null,
      replaced: false,
      counters: null,
    };
    this.workers.set(worker.id, info);
    worker.on('message', (message: unknown, handle: unknown) => this.received(info, message, handle));
    // Once the channel is closed no message can follow: its `final` counters (or, killed, the last
    // it reported) join the totals of the workers gone.
    worker.once('disconnect', () => {
      if (info.counters !== null) addCounters(this.goneCounters, { ...info.counters, active: 0 });
    });
    worker.on('exit', (code: number | null, signal: NodeJS.Signals | null) =>
      this.exitedWorker(info, code, signal),
    );
    this.log.info({ slot, workerPid: worker.process.pid, generation: this.generation }, 'worker started');
    return info;
  }

  private received(info: WorkerInfo, message: unknown, handle: unknown): void {
    if (!isMessage(message)) return;
    const m = message as ToPrimary;
    switch (m.sluice) {
      case 'ready':
        info.state = 'serving';
        if (this.bound.length === 0) this.bound = m.bound;
        info.settle?.(true);
        info.settle = null;
        break;
      case 'final':
        info.counters = m.counters;
        break;
      case 'stats':
        info.counters = m.counters;
        this.statsWaiters.get(m.id)?.({ counters: m.counters, rssBytes: m.rssBytes });
        this.statsWaiters.delete(m.id);
        break;
      case 'status?':
        void this.status().then((status) => this.tell(info, { sluice: 'status', id: m.id, status }));
        break;
      case 'recycle':
        void this.recycle(info, m.reason);
        break;
      case 'handoff':
        this.adopt(info, m.protocol, handle as Socket | undefined);
        break;
      case 'listeners?':
        this.sendListeners(info);
        break;
    }
  }

  /** Copies of the listening sockets, sent as they are: this process keeps holding its own. */
  private sendListeners(info: WorkerInfo): void {
    if (!info.worker.isConnected()) return;
    this.listenerHandles.forEach((handle, index) =>
      info.worker.send({ sluice: 'listener', index } satisfies ToWorker, handle as never),
    );
  }

  private tell(info: WorkerInfo, message: ToWorker, handle?: Socket): void {
    // The socket object left here once its handle is sent must close, or the sending worker's
    // server, which asks this process whether the sockets it passed on are closed, waits forever.
    if (info.worker.isConnected()) info.worker.send(message, handle, () => handle?.destroy());
    else handle?.destroy();
  }

  /** A kept-alive connection from a retiring worker goes to a serving one, round robin. */
  private adopt(from: WorkerInfo, protocol: ListenerProtocol, socket: Socket | undefined): void {
    this.log.debug({ from: from.slot, handle: socket !== undefined }, 'passing a kept-alive connection on');
    if (socket === undefined) return;
    // The newest generation first: an older worker still serving is about to retire too.
    const serving = [...this.workers.values()]
      .filter((w) => w !== from && w.state === 'serving')
      .sort((a, b) => b.generation - a.generation)
      .filter((w, _, all) => w.generation === all[0].generation);
    if (serving.length === 0) {
      socket.destroy();
      return;
    }
    stopReading(socket);
    this.tell(serving[this.nextAdopter++ % serving.length], { sluice: 'adopt', protocol }, socket);
  }

  private exitedWorker(info: WorkerInfo, code: number | null, signal: NodeJS.Signals | null): void {
    this.workers.delete(info.worker.id);
    info.exitCode = code;
    info.settle?.(false);
    info.settle = null;
    if (this.stopping) {
      if (this.workers.size === 0) this.finish(EXIT.OK);
      return;
    }
    const expected = info.state === 'retiring' || info.replaced;
    const fields = { slot: info.slot, workerPid: info.worker.process.pid, code, signal };
    if (expected) {
      this.log.info(fields, 'worker exited');
      return;
    }
    if (!this.started) return;
    // A reload's or recycle's successor that failed: the worker it was to replace still serves.
    if ([...this.workers.values()].some((w) => w.slot === info.slot)) {
      this.log.error(fields, 'worker died while another serves its slot');
      return;
    }
    const history = this.slots[info.slot - 1];
    if (history === undefined) return;
    const delay = history.died(Date.now(), Date.now() - info.startedAt.getTime());
    if (delay === null) {
      this.log.error(
        { ...fields, deaths: 5, withinMs: 10_000 },
        'worker slot is crash-looping: not restarted',
      );
      if (this.slots.every((s) => s.crashLoop) && this.workers.size === 0) {
        this.log.fatal('every worker slot is crash-looping: exiting');
        this.finish(EXIT.CRASH_LOOP);
      }
      return;
    }
    this.log.warn({ ...fields, restartInMs: delay }, 'worker died: restarting');
    setTimeout(() => {
      if (!this.stopping && ![...this.workers.values()].some((w) => w.slot === info.slot))
        this.fork(info.slot);
      // Not unref'd: with every worker dead, this timer is what keeps the primary alive.
    }, delay);
  }

  /** Starts a successor for `old`'s slot and retires `old` once the successor serves. */
  private async replace(old: WorkerInfo | undefined, slot: number): Promise<boolean> {
    if (old !== undefined) old.replaced = true;
    const next = this.fork(slot);
    if (!(await next.ready)) {
      if (old !== undefined) old.replaced = false;
      this.log.error({ slot, code: next.exitCode }, 'new worker failed to start: the old one keeps serving');
      return false;
    }
    if (old !== undefined) this.retire(old);
    return true;
  }

  private retire(info: WorkerInfo): void {
    info.state = 'retiring';
    this.tell(info, { sluice: 'retire' });
    const timer = setTimeout(
      () => info.worker.process.kill('SIGKILL'),
      this.options.drainTimeout + KILL_GRACE_MS,
    );
    timer.unref();
    info.worker.once('exit', () => clearTimeout(timer));
  }

  private async recycle(info: WorkerInfo, reason: string): Promise<void> {
    if (info.state !== 'serving' || info.replaced || this.stopping || this.reloading) return;
    this.recycles++;
    this.log.info({ slot: info.slot, workerPid: info.worker.process.pid, reason }, 'recycling worker');
    await this.replace(info, info.slot);
  }

  /**
   * SIGHUP: the config file is read again and a new generation of workers loads the app afresh;
   * each old worker retires once its successor serves. Listeners stay as they are.
   */
  async reload(): Promise<void> {
    if (this.stopping) return;
    if (this.reloading) {
      this.log.warn('reload already in progress');
      return;
    }
    let options: ServeOptions;
    try {
      options = this.setup.reread();
    } catch (error) {
      this.log.error({ err: error }, 'reload refused: the configuration is invalid; nothing changed');
      return;
    }
    if (listenersOf(options) !== listenersOf(this.options)) {
      this.log.warn('listener changes take effect only at a restart; the listeners stay as they are');
      options = {
        ...options,
        scgi: this.options.scgi,
        fastcgi: this.options.fastcgi,
        http: this.options.http,
      };
    }
    this.reloading = true;
    this.options = options;
    this.generation++;
    this.reloads++;
    this.log.info({ generation: this.generation, workers: options.workers }, 'reloading');
    const old = [...this.workers.values()].filter((w) => w.state !== 'retiring');
    this.slots = Array.from({ length: options.workers }, (_, i) => this.slots[i] ?? new CrashHistory());
    for (const history of this.slots) history.reset();
    const results = await Promise.all(
      this.slots.map((_, i) =>
        this.replace(
          old.find((w) => w.slot === i + 1),
          i + 1,
        ),
      ),
    );
    for (const w of old) if (w.slot > options.workers) this.retire(w);
    this.reloading = false;
    this.log.info({ generation: this.generation, replaced: results.filter(Boolean).length }, 'reloaded');
  }

  /** SIGUSR2: every process reopens its log files. */
  reopenLogs(): void {
    for (const info of this.workers.values()) this.tell(info, { sluice: 'reopen' });
  }

  /** SIGTERM/SIGINT: workers finish their requests and exit; a second signal kills them at once. */
  stop(signal: NodeJS.Signals): void {
    if (this.stopping) {
      this.log.warn({ signal }, 'second signal: killing the workers');
      if (this.graceTimer !== null) clearTimeout(this.graceTimer);
      for (const info of this.workers.values()) info.worker.process.kill('SIGKILL');
      this.finish(EXIT.FAILURE);
      return;
    }
    this.stopping = true;
    const { stopGrace, drainTimeout } = this.options;
    this.log.info({ signal, stopGrace, drainTimeout }, 'stopping');
    if (stopGrace === 0) return void this.drainWorkers();
    // The listeners stay open meanwhile: a load balancer whose checks have not failed yet still sends.
    for (const info of this.workers.values()) this.tell(info, { sluice: 'grace' });
    this.log.info({ stopGrace }, 'stop grace: the ping path answers 503, requests are still served');
    this.graceTimer = setTimeout(() => {
      this.log.info({ drainTimeout }, 'stop grace over: draining');
      void this.drainWorkers();
    }, stopGrace);
  }

  /** Workers finish their requests and exit; those still busy after --drain-timeout are killed. */
  private async drainWorkers(): Promise<void> {
    // New connections find no file from now on (nginx tries its next upstream), and the workers,
    // told to stop only then, take what their listeners had queued before closing them.
    await this.removeSocketFiles();
    this.releaseSockets();
    if (this.workers.size === 0) this.finish(EXIT.OK);
    for (const info of this.workers.values()) this.tell(info, { sluice: 'stop' });
    setTimeout(() => {
      for (const info of this.workers.values()) info.worker.process.kill('SIGKILL');
    }, this.options.drainTimeout + KILL_GRACE_MS).unref();
  }

  /**
   * Closes the listeners held here and removes the socket files still in place (a stop removed them
   * before draining; a failed start did not), unless taken over since.
   */
  async cleanUp(): Promise<void> {
    this.releaseSockets();
    await this.removeSocketFiles();
  }

  private async removeSocketFiles(): Promise<void> {
    await Promise.all(this.ownFiles.splice(0).map((file) => removeOwnSocketFile(file, this.log)));
  }

  private releaseSockets(): void {
    this.listenerHandles = [];
    for (const held of this.held.splice(0)) held.handle.close();
  }

  private async allExited(): Promise<void> {
    while (this.workers.size > 0) await new Promise((r) => setTimeout(r, 20));
  }

  /** The whole daemon's status, with fresh counters from every worker that answers in time. */
  async status(): Promise<DaemonStatus> {
    const live = [...this.workers.values()].filter((w) => w.state !== 'starting');
    const stats = await Promise.all(live.map((w) => this.stats(w)));
    return buildStatus({
      version: VERSION,
      pid: process.pid,
      mode: 'primary',
      startedAt: this.startedAt,
      generation: this.generation,
      reloads: this.reloads,
      restarts: this.slots.reduce((n, s) => n + s.restarts, 0),
      recycles: this.recycles,
      listeners: await listenerStatuses(
        this.listeners.map((l, i) => ({ protocol: l.protocol, address: this.bound[i] ?? l.address })),
        this.options.listenBacklog,
      ),
      slots: this.slots.map((s, i) => ({ slot: i + 1, restarts: s.restarts, crashLoop: s.crashLoop })),
      exited: this.goneCounters,
      workers: live.map((w, i) => ({
        slot: w.slot,
        pid: w.worker.process.pid ?? 0,
        generation: w.generation,
        state: w.state,
        startedAt: w.startedAt.toISOString(),
        rssBytes: stats[i]?.rssBytes ?? 0,
        counters: stats[i]?.counters ?? emptyCounters(),
      })),
    });
  }

  private stats(info: WorkerInfo): Promise<{ counters: Counters; rssBytes: number } | null> {
    return new Promise((resolve) => {
      const id = ++this.lastRequestId;
      const timer = setTimeout(() => {
        this.statsWaiters.delete(id);
        resolve(null);
      }, STATS_TIMEOUT_MS);
      this.statsWaiters.set(id, (stats) => {
        clearTimeout(timer);
        resolve(stats);
      });
      this.tell(info, { sluice: 'stats?', id });
    });
  }
}

function listenersOf(options: ServeOptions): string {
  return JSON.stringify([options.scgi, options.fastcgi, options.http]);
}
