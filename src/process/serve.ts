// `sluice serve`: one process serving alone (--workers 0), or a primary with workers; signals and readiness.
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { Daemon, type ListenerSpec } from './daemon';
import { UsageError } from '../errors';
import { EXIT } from './exit-codes';
import { parseAddress } from '../common/address';
import { createLogger, reopenLogFiles } from './logger';
import { parseAppSpec } from './load-app';
import type { ServeOptions } from '../settings/options';
import { removePidFile, writePidFile } from './pid-file';
import { servingAlone, startServing } from './serving';
import { staticMounts } from './static-mounts';
import { inheritedListeners } from './socket-activation';
import { spawnedListener } from './spawned';
import { Primary } from './supervisor/primary';
import { SystemdNotifier, takeNotifySocket } from './systemd-notify';
import { groupId, userId } from './users';
import { VERSION } from '../common/version';

/** Listeners from the flags, then any systemd passed (socket activation) or a spawning web server's. */
export function listenerSpecs(options: ServeOptions, inherited: readonly ListenerSpec[]): ListenerSpec[] {
  const specs: ListenerSpec[] = [
    ...options.scgi.map((a) => ({ protocol: 'scgi' as const, address: parseAddress(a) })),
    ...options.fastcgi.map((a) => ({ protocol: 'fastcgi' as const, address: parseAddress(a) })),
    ...options.http.map((a) => ({ protocol: 'http' as const, address: parseAddress(a) })),
    ...inherited,
  ];
  if (specs.length === 0) {
    throw new UsageError(
      'ERR_USAGE_NO_LISTENER',
      'give at least one of --scgi, --fastcgi or --http (or start sluice through a systemd .socket unit)',
    );
  }
  return specs;
}

/** Checks what must hold before anything starts; shared with `sluice check-config`. */
export function checkServeOptions(options: ServeOptions): void {
  if (options.app === undefined) {
    throw new UsageError(
      'ERR_USAGE_NO_APP',
      'name the app module: sluice serve <app-module>, or "app" in --config',
    );
  }
  // Users and groups named: a typo is reported before anything is bound.
  for (const user of [options.user, options.socketOwner]) if (user !== undefined) userId(user);
  for (const group of [options.group, options.socketGroup]) if (group !== undefined) groupId(group);
  if (options.watch && options.workers === 0) {
    throw new UsageError('ERR_USAGE_WATCH', '--watch reloads workers: it needs --workers 1 or more');
  }
  checkStopGrace(options);
}

/** --stop-grace turns the ping path to 503 for a load balancer: without one it only delays the stop. */
export function checkStopGrace(options: ServeOptions): void {
  if (options.stopGrace > 0 && options.pingPath === undefined) {
    throw new UsageError(
      'ERR_USAGE_STOP_GRACE',
      "--stop-grace answers the ping path with 503 while a load balancer takes the host out: give --ping-path too (serve(): 'pingPath')",
    );
  }
}

/** The sockets this process was started with; `spawned` when a web server left one on fd 0. */
function startedWith(options: ServeOptions): { inherited: ListenerSpec[]; spawned: boolean } {
  const systemd = inheritedListeners();
  const flags = options.scgi.length + options.fastcgi.length + options.http.length;
  if (systemd.length > 0 || flags > 0) return { inherited: systemd, spawned: false };
  const fd0 = spawnedListener();
  return fd0 === null ? { inherited: [], spawned: false } : { inherited: [fd0], spawned: true };
}

/** What of the settings was given (flags or config file) rather than left to its default. */
export interface GivenSettings {
  readonly workers: boolean;
}

/** Runs the daemon until it stops; resolves with the exit code. */
export async function serve(
  options: ServeOptions,
  reread: () => ServeOptions,
  given: GivenSettings = { workers: true },
): Promise<number> {
  checkServeOptions(options);
  if (options.chdir !== undefined) {
    try {
      process.chdir(options.chdir);
    } catch (error) {
      throw new UsageError(
        'ERR_USAGE_CHDIR',
        `cannot --chdir ${options.chdir}: ${(error as NodeJS.ErrnoException).code}`,
      );
    }
  }
  // Checked here too, not only in each worker: a missing directory is a start-up error (exit 2).
  staticMounts(options.static);
  const { inherited, spawned } = startedWith(options);
  const listeners = listenerSpecs(options, inherited);
  // A web server that spawns its apps manages their processes: a primary and a worker in each copy
  // it starts would double the memory for nothing. --workers (or --watch, which needs them) says otherwise.
  if (spawned && !given.workers && !options.watch) options = { ...options, workers: 0 };
  const notifySocket = takeNotifySocket();
  writePidFile(options.pidFile);
  try {
    return options.workers === 0
      ? await serveAlone(options, listeners, notifySocket)
      : await superviseWorkers(options, listeners, reread, notifySocket);
  } finally {
    removePidFile(options.pidFile);
  }
}

async function serveAlone(
  options: ServeOptions,
  listeners: readonly ListenerSpec[],
  notifySocket: string | undefined,
): Promise<number> {
  const serving = await startServing(options, listeners, servingAlone(options, listeners));
  const log = serving.log;
  const notifier = new SystemdNotifier(log, notifySocket);
  Daemon.logListening(log, listeners, serving.bound);
  // Handlers go in before 'ready' is announced: whoever waits for that line may signal at once.
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting at once');
        resolve(EXIT.FAILURE);
        return;
      }
      stopping = true;
      log.info({ signal, stopGrace: options.stopGrace, drainTimeout: options.drainTimeout }, 'stopping');
      notifier.stopping();
      void serving.stop(options.stopGrace, options.drainTimeout).then(() => {
        log.info('stopped');
        resolve(EXIT.OK);
      });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  process.on('SIGUSR2', () => reopenLogFiles(log));
  process.on('SIGHUP', () => log.warn('SIGHUP: reloading needs a primary (--workers 1 or more); ignored'));
  announceReady(log, notifier);
  return stopped;
}

async function superviseWorkers(
  options: ServeOptions,
  listeners: readonly ListenerSpec[],
  reread: () => ServeOptions,
  notifySocket: string | undefined,
): Promise<number> {
  const log = createLogger({ level: options.logLevel, pretty: options.pretty, file: options.logFile }).child({
    primary: true,
  });
  const notifier = new SystemdNotifier(log, notifySocket);
  const primary = new Primary({ options, listeners, log, reread });
  // Installed before the workers start: a stop signal during start-up must not kill the primary.
  let signalled: NodeJS.Signals | null = null;
  const early = (signal: NodeJS.Signals): void => void (signalled ??= signal);
  process.on('SIGTERM', early);
  process.on('SIGINT', early);
  const failed = await primary.start();
  process.off('SIGTERM', early);
  process.off('SIGINT', early);
  if (failed !== null) return failed;
  const stop = (signal: NodeJS.Signals): void => {
    notifier.stopping();
    primary.stop(signal);
  };
  const reload = async (): Promise<void> => {
    notifier.reloading();
    await primary.reload();
    notifier.ready('serving');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => void reload());
  process.on('SIGUSR2', () => {
    reopenLogFiles(log);
    primary.reopenLogs();
  });
  const watcher = options.watch ? watchForChanges(options, log, () => void reload()) : null;
  if (signalled !== null) stop(signalled);
  else announceReady(log, notifier, { workers: options.workers });
  const code = await primary.exited;
  watcher?.close();
  await primary.cleanUp();
  log.info({ code }, 'stopped');
  return code;
}

function announceReady(log: Logger, notifier: SystemdNotifier, extra: Record<string, unknown> = {}): void {
  log.info({ version: VERSION, node: process.version, ...extra }, 'ready');
  notifier.ready('serving');
}

/** --watch: a change under the app module's directory reloads the workers (after a quiet 200 ms). */
function watchForChanges(options: ServeOptions, log: Logger, reload: () => void): FSWatcher {
  const dir = path.dirname(parseAppSpec(options.app!).file);
  let timer: NodeJS.Timeout | null = null;
  const watcher = watch(dir, { recursive: true }, (_event, file) => {
    if (file !== null && /(^|[/\\])(node_modules|\.git)([/\\]|$)/.test(file)) return;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => {
      log.info({ file }, 'file changed: reloading');
      reload();
    }, 200);
  });
  log.info({ dir }, 'watching for changes');
  return watcher;
}
