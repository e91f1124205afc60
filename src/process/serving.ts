// One serving process (the only one, or a worker): logger, app, meter, listeners; bound before the app loads.
import { Daemon, type DaemonOptions, type HandOff, type ListenerSpec } from './daemon';
import { peerFilter, statusPeerFilter } from '../common/allow';
import { AccessLog } from './access-log';
import type { ListenAddress } from '../common/address';
import type { ServeContext } from '../runtime/context';
import { SpoolBudget } from '../runtime/spool-budget';
import type { SocketOptions } from './listen';
import { createLogger, type Logger } from './logger';
import { emptyCounters, Meter } from '../runtime/meter';
import type { App } from '../gateway/types';
import { loadPipeline } from './pipeline';
import { catchErrors } from '../middleware/catch-errors';
import { staticFiles } from '../middleware/static-files';
import { limitsOf, type ServeOptions } from '../settings/options';
import { Leaving, withDaemonPaths, type StatusSource } from '../status/endpoint';
import { buildStatus, listenerStatuses } from '../status/snapshot';
import { VERSION } from '../common/version';
import { staticMounts } from './static-mounts';
import { dropPrivileges, groupId, userId } from './users';
import { tuneEngine } from './engine-flags';

export interface ServingRole {
  /** Worker slot, 0 for a process serving alone. */
  readonly slot: number;
  readonly multiprocess: boolean;
  /** Other processes listen on the same addresses (node:cluster). */
  readonly shared: boolean;
  /** Fresh copies of the listening sockets from the process holding them (see DaemonOptions). */
  readonly reacquire: DaemonOptions['reacquire'];
  readonly status: (self: Serving) => StatusSource;
}

export interface Serving {
  readonly log: Logger;
  readonly meter: Meter;
  readonly daemon: Daemon;
  readonly bound: readonly ListenAddress[];
  /** Stops (or, with `handOff`, retires) and closes the access log. */
  close(drainTimeout: number, handOff?: HandOff): Promise<void>;
  /** From now on the ping path answers 503; everything else is served as before. */
  startGrace(): void;
  /**
   * Stops as SIGTERM asks: the ping path answers 503 for `grace` ms (--stop-grace) while requests
   * are still served, then the daemon drains for up to `drainTimeout` and closes.
   */
  stop(grace: number, drainTimeout: number): Promise<void>;
}

type MutableContext = { -readonly [K in keyof ServeContext]: ServeContext[K] };

/** How socket files are made (--socket-mode/-owner/-group) and the listen backlog. */
export function socketOptionsOf(options: ServeOptions, shared: boolean): SocketOptions {
  return {
    mode: options.socketMode,
    uid: options.socketOwner === undefined ? undefined : userId(options.socketOwner),
    gid: options.socketGroup === undefined ? undefined : groupId(options.socketGroup),
    backlog: options.listenBacklog,
    shared,
    // A restart on the same path overlaps the old daemon's stop, which by the same settings lasts
    // at most its grace and its drain.
    takeoverWaitMs: options.stopGrace + options.drainTimeout,
  };
}

/** What a serving process runs and where it logs; `startServing` makes them from the settings. */
export interface ServingParts {
  readonly log: Logger;
  /** The app, adapted: called once the listeners are bound. */
  readonly loadApp: () => Promise<App>;
  /** Collect garbage when idle after a burst (see IdleCollector); off inside someone else's program. */
  readonly collectIdleGarbage: boolean;
}

/**
 * Binds the listeners, gives up root (--user/--group), and only then loads the app: app code never
 * runs with the privileges that bound a port below 1024. A request arriving meanwhile waits for it.
 */
export function startServing(
  options: ServeOptions,
  listeners: readonly ListenerSpec[],
  role: ServingRole,
): Promise<Serving> {
  const baseLog = createLogger({ level: options.logLevel, pretty: options.pretty, file: options.logFile });
  const log = role.slot === 0 ? baseLog : baseLog.child({ worker: role.slot });
  if (!tuneEngine()) log.debug('allocation-site pretenuring left as the node flags set it');
  return serveWith(options, listeners, role, {
    log,
    collectIdleGarbage: true,
    loadApp: () => {
      dropPrivileges(options.user, options.group);
      return loadPipeline(options, log);
    },
  });
}

/**
 * The serving of one process, whoever starts it (`sluice serve`, a worker, `serve()` in a program):
 * binds the listeners, then loads the app; requests that arrive meanwhile wait for it.
 */
export async function serveWith(
  options: ServeOptions,
  listeners: readonly ListenerSpec[],
  role: ServingRole,
  parts: ServingParts,
): Promise<Serving> {
  const log = parts.log;
  const mounts = staticMounts(options.static);
  if (mounts.length > 0 && !listeners.some((l) => l.protocol === 'http')) {
    log.warn('--static serves files on the --http listener only, and none is given: no file is served');
  }
  const accessLog = options.accessLog === undefined ? null : new AccessLog(options.accessLog, role.slot);
  const meter = new Meter({ log, accessLog, slowMs: options.slowLogMs ?? Infinity });
  let loaded: () => void = () => undefined;
  let failed: (error: unknown) => void = () => undefined;
  const appReady = new Promise<void>((resolve, reject) => {
    loaded = resolve;
    failed = reject;
  });
  appReady.catch(() => undefined);
  // Replaced once the app is loaded: only requests that arrive before that take this detour.
  const waitFor =
    (context: ServeContext): App =>
    (environ, start) =>
      appReady.then(() => context.app(environ, start));
  const limits = limitsOf(options);
  const base = {
    log,
    limits,
    environ: { mount: options.mount },
    multiprocess: role.multiprocess,
    load: meter,
    spool: new SpoolBudget(limits.spoolMaxBytes),
    admissionExempt: new Set([options.pingPath, options.statusPath].filter((p) => p !== undefined)),
  };
  const trusted: MutableContext = { ...base, app: () => [] };
  const untrusted: MutableContext = { ...base, app: () => [] };
  trusted.app = waitFor(trusted);
  untrusted.app = waitFor(untrusted);
  const allowSpecs = options.allow.length > 0 ? options.allow : [process.env.FCGI_WEB_SERVER_ADDRS ?? ''];
  const daemon = new Daemon({
    context: trusted,
    untrustedContext: untrusted,
    trusted: statusPeerFilter(options.statusAllow),
    listeners,
    sockets: socketOptionsOf(options, role.shared),
    allow: allowSpecs.join('').trim() === '' ? null : peerFilter(allowSpecs),
    reacquire: role.reacquire,
    collectIdleGarbage: parts.collectIdleGarbage,
  });
  const leaving = new Leaving();
  const serving: Serving = {
    log,
    meter,
    daemon,
    bound: [],
    async close(drainTimeout, handOff) {
      await daemon.stop(drainTimeout, handOff);
      await accessLog?.close();
    },
    startGrace: () => leaving.leave(),
    async stop(grace, drainTimeout) {
      if (grace > 0) {
        serving.startGrace();
        log.info({ stopGrace: grace }, 'stop grace: the ping path answers 503, requests are still served');
        await new Promise((resolve) => setTimeout(resolve, grace));
        log.info({ drainTimeout }, 'stop grace over: draining');
      }
      await serving.close(drainTimeout);
    },
  };
  try {
    (serving as { bound: readonly ListenAddress[] }).bound = await daemon.start();
    const loadedApp = await parts.loadApp();
    const caught = options.debug ? catchErrors({ debug: true })(loadedApp) : loadedApp;
    // Inside the daemon's paths: the ping and status paths stay theirs whatever --static covers.
    const app = mounts.length === 0 ? caught : staticFiles(mounts)(caught);
    const status = role.status(serving);
    trusted.app = withDaemonPaths(app, options, true, status, leaving);
    untrusted.app = withDaemonPaths(app, options, false, status, leaving);
    loaded();
  } catch (error) {
    failed(error);
    await serving.close(0);
    throw error;
  }
  return serving;
}

/**
 * The role of a process serving alone, without a primary (--workers 0, or `serve()` in a program):
 * its status is its own, as the status path and `server.status()` give it.
 */
export function servingAlone(options: ServeOptions, listeners: readonly ListenerSpec[]): ServingRole {
  const startedAt = new Date();
  return {
    slot: 0,
    multiprocess: false,
    shared: false,
    reacquire: null,
    status: (self) => async () =>
      buildStatus({
        version: VERSION,
        pid: process.pid,
        mode: 'single',
        startedAt,
        generation: 1,
        reloads: 0,
        restarts: 0,
        recycles: 0,
        listeners: await listenerStatuses(
          listeners.map((l, i) => ({ protocol: l.protocol, address: self.bound[i] ?? l.address })),
          options.listenBacklog,
        ),
        slots: [],
        exited: emptyCounters(),
        workers: [
          {
            slot: 0,
            pid: process.pid,
            generation: 1,
            state: 'serving',
            startedAt: startedAt.toISOString(),
            rssBytes: process.memoryUsage.rss(),
            counters: self.meter.snapshot(),
          },
        ],
      }),
  };
}
