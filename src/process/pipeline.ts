// The app a serving process runs: the app module (or an apps map of them), wrapped in the config file's middleware.
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import { UsageError } from '../errors';
import { compose } from '../gateway/compose';
import type { App, Middleware } from '../gateway/types';
import { urlMap } from '../gateway/url-map';
import type { MiddlewareFactory } from '../middleware/builtins';
import type { MiddlewareSpec } from '../settings/composition';
import type { ServeOptions } from '../settings/options';
import { loadApp, loadModule, parseAppSpec, pickExport } from './load-app';

/**
 * Checks what the composition keys need before anything starts (shared with `check-config`): one
 * app or an apps map, and a middleware behind every `use`.
 */
export function checkComposition(options: ServeOptions): void {
  if (options.app !== undefined && options.apps !== undefined) {
    throw new UsageError(
      'ERR_CONFIG_APPS',
      `both an app (${options.app}) and "apps" are given: name the app under "/" in "apps" instead`,
    );
  }
  for (const spec of options.middleware ?? []) middlewareSource(spec);
}

/**
 * The built-ins, loaded on first use: only a config file naming middleware pays for loading them
 * (zlib, crypto), not the start of every worker.
 */
function builtins(): ReadonlyMap<string, MiddlewareFactory> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../middleware/builtins') as typeof import('../middleware/builtins')).BUILTIN_MIDDLEWARE;
}

/** Where a `use` leads: a built-in by name first, else a module resolved from the config file. */
function middlewareSource(spec: MiddlewareSpec): MiddlewareFactory | string {
  const builtin = builtins().get(spec.use);
  if (builtin !== undefined) return builtin;
  try {
    return createRequire(spec.from).resolve(spec.use);
  } catch {
    throw new UsageError(
      'ERR_CONFIG_MIDDLEWARE',
      `${spec.from}: ${spec.key}.use: no built-in or module ${JSON.stringify(spec.use)} ` +
        `(built-ins: ${[...builtins().keys()].join(', ')}; a module path starts with ./ or /)`,
    );
  }
}

/**
 * Loads every app, adapted, under an apps map when there is one, and wraps it in the middleware,
 * the first listed outermost; the settings go into every environ before any middleware runs.
 */
export async function loadPipeline(options: ServeOptions, log: Logger): Promise<App> {
  const settings = options.settings === undefined ? undefined : deepFreeze(options.settings);
  // The order is the one each request meets: settings, the middleware listed, the map, the app.
  const load = (app: string): Promise<App> =>
    loadApp(parseAppSpec(app), { interface: options.interface, log, settings });
  let app: App;
  if (options.apps === undefined) {
    app = await load(options.app!);
  } else {
    const mounts = [];
    for (const { prefix, app: module } of options.apps) {
      log.info({ prefix: prefix || '/', app: module }, 'mounting app');
      mounts.push({ prefix, app: await load(module) });
    }
    app = urlMap(mounts);
  }
  const middleware: Middleware[] = [];
  for (const spec of options.middleware ?? []) middleware.push(await loadMiddleware(spec));
  app = compose(app, ...middleware);
  return settings === undefined ? app : withSettings(app, settings);
}

async function loadMiddleware(spec: MiddlewareSpec): Promise<Middleware> {
  const source = middlewareSource(spec);
  const factory = typeof source === 'string' ? pickExport(await loadModule(source), undefined) : source;
  const where = `${spec.from}: ${spec.key} (${spec.use})`;
  if (typeof factory !== 'function') {
    throw new UsageError(
      'ERR_MIDDLEWARE_EXPORT',
      `${where}: the default export is no function (options) => (app) => app`,
    );
  }
  let middleware: unknown;
  try {
    middleware = (factory as MiddlewareFactory)(spec.options);
  } catch (error) {
    // Options a factory refuses (a missing secret): its own error and code, saying which entry.
    if (error instanceof Error) error.message = `${where}: ${error.message}`;
    throw error;
  }
  if (typeof middleware !== 'function') {
    throw new UsageError(
      'ERR_MIDDLEWARE_EXPORT',
      `${where}: the factory returned no function (app) => app (got ${typeof middleware})`,
    );
  }
  return middleware as Middleware;
}

/** `environ['sluice.settings']`: the same frozen object in every request, as the factory got it. */
export function withSettings(app: App, settings: Readonly<Record<string, unknown>>): App {
  return (environ, startResponse) => {
    environ['sluice.settings'] = settings;
    return app(environ, startResponse);
  };
}

/** Settings are shared by every request and by the factory: none of them may change them for the rest. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
