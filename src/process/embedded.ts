// sluice inside another program: serve(app, options) binds the listeners in the calling process and hands back the server.
import pino, { type Logger } from 'pino';
import { adaptApp, type Servable } from '../adapters/adapt';
import { detectApp, INTERFACE_OF } from '../adapters/detect';
import { formatAddress, type ListenAddress } from '../common/address';
import { UsageError } from '../errors';
import { mergeOptions, optionSpec, parseTypedValue, type GivenOptions } from '../settings/options';
import { BadValue } from '../settings/parse';
import type { DaemonOnlyKey, OptionKey, ServeOptions } from '../settings/table';
import type { DaemonStatus } from '../status/snapshot';
import { Daemon, type ListenerProtocol } from './daemon';
import { checkStopGrace, listenerSpecs } from './serve';
import { serveWith, servingAlone } from './serving';

/** The settings `serve()` takes: every row of the settings table but the daemon's own. */
export type ServerSettings = Exclude<OptionKey, DaemonOnlyKey>;

/**
 * Options of {@link serve}: the settings table's keys (the long flags in camelCase, as in a
 * `--config` file), each optional with the table's default, and the logger.
 */
export type ServerOptions = { readonly [K in ServerSettings]?: ServeOptions[K] } & {
  /** Where the server logs; silent when none is given. */
  readonly logger?: Logger;
};

/** A listener as bound. */
export interface BoundListener {
  readonly protocol: ListenerProtocol;
  /** As the flags and `sluice/client` take it: `unix:/run/app.sock`, `127.0.0.1:8080`, `[::1]:9000`. */
  readonly address: string;
  /** TCP: the port bound, the one the system chose when 0 was asked. */
  readonly port?: number;
  /** Unix: the socket file, removed by `close()`. */
  readonly path?: string;
}

/** A running server; see {@link serve}. */
export interface Server {
  /** Each listener as bound, in the order scgi, fastcgi, http, each as given. */
  readonly addresses: readonly BoundListener[];
  /** The status document the status path answers (docs/status.md): counters, listeners, uptime. */
  status(): Promise<DaemonStatus>;
  /**
   * Stops as SIGTERM stops the daemon: with the `stopGrace` setting, the ping path answers 503 for
   * that long while requests are still served; then no new connections, requests in flight finish
   * for up to `drainMs` (default the `drainTimeout` setting), then what is left is closed and the
   * socket files removed. Calling it again returns the same promise.
   */
  close(drainMs?: number): Promise<void>;
}

/**
 * Serves `app` (a gateway app, a Node listener, an Express, Koa or Fastify app, a fetch handler or
 * an object with a `fetch` method, recognized as `sluice serve` recognizes an export) in the calling
 * process, on the listeners `options` name; resolves once they are bound and the app is ready.
 * It installs no signal handlers and never exits the process: stopping is `close()`. Settings of
 * the daemon's own process (workers, user, pidFile, watch, the log settings...) are refused.
 *
 * @throws UsageError `ERR_EMBEDDED_KEY`, `ERR_EMBEDDED_DAEMON_ONLY` or `ERR_EMBEDDED_VALUE` for an
 * option; `ERR_USAGE_STOP_GRACE` for `stopGrace` without `pingPath`; `ERR_USAGE_NO_LISTENER` without one; the codes of `sluice serve` for the app and binding.
 */
export async function serve(app: Servable, options: ServerOptions = {}): Promise<Server> {
  const { logger, ...given } = options;
  const settings = mergeOptions(checkSettings(given));
  if (settings.scgi.length + settings.fastcgi.length + settings.http.length === 0) {
    throw new UsageError('ERR_USAGE_NO_LISTENER', 'serve(): give at least one of scgi, fastcgi or http');
  }
  const log = logger ?? pino({ level: 'silent' });
  if (typeof log.child !== 'function' || typeof log.info !== 'function') {
    throw new UsageError('ERR_EMBEDDED_VALUE', 'serve(): logger: expected a pino logger');
  }
  // Before anything is bound: an app of no kind is refused with nothing to undo.
  const kind = detectApp(app, settings.interface);
  const listeners = listenerSpecs(settings, []);
  checkStopGrace(settings);
  const role = servingAlone(settings, listeners);
  const serving = await serveWith(settings, listeners, role, {
    log,
    collectIdleGarbage: false,
    loadApp: () => {
      log.info({ kind, interface: INTERFACE_OF[kind] }, `app recognized as ${kind}`);
      return adaptApp(app, kind);
    },
  });
  Daemon.logListening(log, listeners, serving.bound);
  let closing: Promise<void> | null = null;
  return {
    addresses: listeners.map((spec, i) => boundListener(spec.protocol, serving.bound[i])),
    status: role.status(serving),
    close(drainMs = settings.drainTimeout) {
      closing ??= (async () => {
        log.info({ stopGrace: settings.stopGrace, drainTimeout: drainMs }, 'stopping');
        await serving.stop(settings.stopGrace, drainMs);
        log.info('stopped');
      })();
      return closing;
    },
  };
}

/** Each option checked by its row of the settings table; undefined leaves the default. */
function checkSettings(given: Record<string, unknown>): GivenOptions {
  const checked: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(given)) {
    const spec = key === 'app' ? undefined : optionSpec(key);
    if (spec === undefined) {
      throw new UsageError(
        'ERR_EMBEDDED_KEY',
        key === 'app'
          ? 'serve(): the app is the first argument, not an option'
          : `serve(): unknown option ${JSON.stringify(key)} (options are the settings' config keys, such as "maxBodyBytes", and "logger")`,
      );
    }
    if (spec.daemonOnly !== undefined) {
      throw new UsageError(
        'ERR_EMBEDDED_DAEMON_ONLY',
        `serve(): ${key} is a setting of the sluice daemon only: ${spec.daemonOnly}`,
      );
    }
    if (value === undefined) continue;
    try {
      checked[key] = parseTypedValue(spec, value);
    } catch (error) {
      if (!(error instanceof BadValue)) throw error;
      throw new UsageError(
        'ERR_EMBEDDED_VALUE',
        `serve(): ${key}: ${error.message}, got ${JSON.stringify(value)}`,
      );
    }
  }
  return checked as GivenOptions;
}

function boundListener(protocol: ListenerProtocol, address: ListenAddress): BoundListener {
  const where =
    address.kind === 'tcp' ? { port: address.port } : address.kind === 'unix' ? { path: address.path } : {};
  return { protocol, address: formatAddress(address), ...where };
}
