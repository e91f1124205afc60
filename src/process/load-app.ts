// Loading the user's app module: .js, .cjs, .mjs or .ts, with `module:export` naming an export.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { adaptApp } from '../adapters/adapt';
import { detectApp, INTERFACE_OF, type InterfaceName } from '../adapters/detect';
import { SluiceError, UsageError } from '../errors';
import type { App } from '../gateway/types';

// TypeScript compiles import() to require() under CommonJS; ES modules need the real thing.
const importModule = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<unknown>;

export interface AppSpec {
  readonly file: string;
  /** The export to use; undefined means the default export. */
  readonly exportName: string | undefined;
}

/** Splits `path/to/app.mjs:name`; a colon followed by a path separator belongs to the path. */
export function parseAppSpec(spec: string, cwd = process.cwd()): AppSpec {
  const colon = spec.lastIndexOf(':');
  const named = colon > 0 && /^[A-Za-z_$][\w$]*$/.test(spec.slice(colon + 1));
  const file = named ? spec.slice(0, colon) : spec;
  return { file: path.resolve(cwd, file), exportName: named ? spec.slice(colon + 1) : undefined };
}

export interface LoadOptions {
  /** The interface named by --interface; by default the export's shape decides (see detectApp). */
  readonly interface?: InterfaceName;
  /** Told which kind of app was recognized. */
  readonly log?: Logger;
  /** The config file's `settings`: the argument of a `createApp` export (none: `{}`). */
  readonly settings?: Readonly<Record<string, unknown>>;
}

/** The export an app module may offer in place of an app: called once at load with the settings. */
export const FACTORY_EXPORT = 'createApp';

/**
 * Loads the app and adapts it to the gateway interface; a missing module or export, or an export
 * that is no app, is a UsageError. Without an export named, a `createApp` function export is called
 * with the settings and its result (or what it resolves to) is the app, before a default export:
 * only the factory can take the settings; a default export beside it may serve tests or other hosts.
 */
export async function loadApp(spec: AppSpec, options: LoadOptions = {}): Promise<App> {
  checkReadable(spec.file);
  const namespace = await loadModule(spec.file);
  const factory = spec.exportName === undefined ? namespace[FACTORY_EXPORT] : undefined;
  const exported =
    typeof factory === 'function'
      ? await makeApp(spec.file, factory as (settings: unknown) => unknown, options)
      : pickExport(namespace, spec.exportName);
  if (exported === undefined) {
    const what = spec.exportName === undefined ? 'a default export' : `an export named ${spec.exportName}`;
    throw new UsageError('ERR_APP_NO_EXPORT', `${spec.file} has no ${what}`);
  }
  let kind;
  try {
    kind = detectApp(exported, options.interface);
  } catch (error) {
    (error as Error).message = `${spec.file}: ${(error as Error).message}`;
    throw error;
  }
  options.log?.info({ kind, interface: INTERFACE_OF[kind] }, `app recognized as ${kind}`);
  return adaptApp(exported, kind);
}

async function makeApp(
  file: string,
  factory: (settings: unknown) => unknown,
  options: LoadOptions,
): Promise<unknown> {
  options.log?.info({ file }, `app made by ${FACTORY_EXPORT}(settings)`);
  try {
    return await factory(options.settings ?? {});
  } catch (error) {
    throw new SluiceError(
      'ERR_APP_LOAD',
      `${file}: ${FACTORY_EXPORT}() failed: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/**
 * A module that is there but cannot be read (EACCES: the file's mode, or a directory on its path
 * that this user cannot search, as under --user) is a permission problem, not a missing file.
 */
function checkReadable(file: string): void {
  try {
    accessSync(file, constants.R_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new UsageError(
        'ERR_APP_PERMISSION',
        `app module ${file} cannot be read by uid ${process.getuid?.()}: permission denied (${code})`,
      );
    }
    throw new UsageError('ERR_APP_NOT_FOUND', `app module ${file} does not exist`);
  }
}

/** A module's namespace, whatever its kind; its own failure is ERR_APP_LOAD. */
export async function loadModule(file: string): Promise<Record<string, unknown>> {
  const ext = path.extname(file);
  try {
    if (ext === '.mjs') return (await importModule(pathToFileURL(file).href)) as Record<string, unknown>;
    if (ext === '.ts' || ext === '.mts' || ext === '.cts') registerTypeScript();
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return wrapCommonJs(require(file));
    } catch (error) {
      // A .js file in a "type": "module" package is an ES module.
      if ((error as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ESM') throw error;
      return (await importModule(pathToFileURL(file).href)) as Record<string, unknown>;
    }
  } catch (error) {
    throw new SluiceError('ERR_APP_LOAD', `loading ${file} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** module.exports as a namespace: a function export is the default, as is an explicit `default`. */
function wrapCommonJs(exports: unknown): Record<string, unknown> {
  if (typeof exports === 'function') return { ...exports, default: exports };
  return (exports ?? {}) as Record<string, unknown>;
}

export function pickExport(namespace: Record<string, unknown>, name: string | undefined): unknown {
  if (name !== undefined) return namespace[name];
  const fallback = namespace.default;
  // ESM importing a CommonJS module whose exports object carries its own `default`.
  if (
    fallback !== null &&
    typeof fallback === 'object' &&
    typeof (fallback as { default?: unknown }).default === 'function'
  ) {
    return (fallback as { default: unknown }).default;
  }
  return fallback;
}

let typeScriptRegistered = false;

function registerTypeScript(): void {
  if (typeScriptRegistered) return;
  typeScriptRegistered = true;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tsNode = require('ts-node') as typeof import('ts-node');
  tsNode.register({ transpileOnly: true, skipProject: true, compilerOptions: { module: 'commonjs' } });
}
