// The config file's composition keys: `settings` for the app, the `middleware` around it, and `apps` under path prefixes.
import path from 'node:path';
import { UsageError } from '../errors';
import { BadValue, mountPrefix } from './parse';

/** One `middleware` entry, as workers receive it: JSON only, the file it was read from kept. */
export interface MiddlewareSpec {
  /** A built-in's name, a module path or a package name, as written. */
  readonly use: string;
  /** Given to the factory: `(options) => (app) => app`. */
  readonly options: Readonly<Record<string, unknown>>;
  /** The config file it was read from: module paths and packages resolve from there. */
  readonly from: string;
  /** `middleware[1]`: how error messages name the entry. */
  readonly key: string;
}

/** One `apps` entry: the app module (`path:export`, made absolute) served below `prefix`. */
export interface MountSpec {
  /** As `--mount` takes it: `''` for `/`, else `/api` (no trailing slash). */
  readonly prefix: string;
  readonly app: string;
}

/** The keys that build the app's pipeline rather than set a flag. */
export interface Composition {
  /** Any JSON object: `environ['sluice.settings']`, and the argument of an app module's `createApp`. */
  settings?: Readonly<Record<string, unknown>>;
  /** Outermost first. */
  middleware?: readonly MiddlewareSpec[];
  /** Longest prefix first, as the map tries them. */
  apps?: readonly MountSpec[];
}

export const COMPOSITION_KEYS = ['settings', 'middleware', 'apps'] as const;
export type CompositionKey = (typeof COMPOSITION_KEYS)[number];

export function isCompositionKey(key: string): key is CompositionKey {
  return (COMPOSITION_KEYS as readonly string[]).includes(key);
}

/**
 * Checks one composition key of the config file `file` (an absolute path) and converts its value;
 * relative module paths of `apps` are made absolute from the file's directory, as are those of
 * `middleware` when they are loaded. Errors name the key down to the entry.
 */
export function parseComposition(
  key: CompositionKey,
  value: unknown,
  file: string,
): Composition[CompositionKey] {
  switch (key) {
    case 'settings':
      if (!isObject(value)) throw bad('ERR_CONFIG_VALUE', file, 'settings', 'expected a JSON object', value);
      return value;
    case 'middleware':
      return middlewareList(value, file);
    case 'apps':
      return mountList(value, file);
  }
}

function middlewareList(value: unknown, file: string): MiddlewareSpec[] {
  if (!Array.isArray(value)) {
    throw bad(
      'ERR_CONFIG_MIDDLEWARE',
      file,
      'middleware',
      'expected a list of { "use": …, "options": … }',
      value,
    );
  }
  return value.map((entry: unknown, i) => {
    const key = `middleware[${i}]`;
    if (!isObject(entry))
      throw bad('ERR_CONFIG_MIDDLEWARE', file, key, 'expected an object with "use"', entry);
    for (const name of Object.keys(entry)) {
      if (name !== 'use' && name !== 'options') {
        throw bad(
          'ERR_CONFIG_MIDDLEWARE',
          file,
          `${key}.${name}`,
          'unknown key (an entry has "use" and "options")',
          entry[name],
        );
      }
    }
    if (typeof entry.use !== 'string' || entry.use === '') {
      throw bad(
        'ERR_CONFIG_MIDDLEWARE',
        file,
        `${key}.use`,
        'expected a built-in name or a module',
        entry.use,
      );
    }
    const options = entry.options ?? {};
    if (!isObject(options))
      throw bad('ERR_CONFIG_MIDDLEWARE', file, `${key}.options`, 'expected a JSON object', options);
    return { use: entry.use, options, from: file, key };
  });
}

function mountList(value: unknown, file: string): MountSpec[] {
  if (!isObject(value) || Object.keys(value).length === 0) {
    throw bad('ERR_CONFIG_APPS', file, 'apps', 'expected an object of path prefixes and app modules', value);
  }
  const mounts = Object.entries(value).map(([prefix, app]): MountSpec => {
    let checked: string;
    try {
      checked = mountPrefix(prefix);
    } catch (error) {
      if (!(error instanceof BadValue)) throw error;
      throw bad('ERR_CONFIG_APPS', file, `apps[${JSON.stringify(prefix)}]`, error.message, prefix);
    }
    if (typeof app !== 'string' || app === '') {
      throw bad(
        'ERR_CONFIG_APPS',
        file,
        `apps[${JSON.stringify(prefix)}]`,
        'expected an app module path',
        app,
      );
    }
    return { prefix: checked, app: path.resolve(path.dirname(file), app) };
  });
  const seen = new Set<string>();
  for (const { prefix } of mounts) {
    // "/api" and "/api/" are one prefix: two apps there would leave one never served.
    if (seen.size === seen.add(prefix).size) {
      throw bad(
        'ERR_CONFIG_APPS',
        file,
        'apps',
        `two apps at the prefix ${JSON.stringify(prefix || '/')}`,
        value,
      );
    }
  }
  return mounts.sort((a, b) => b.prefix.length - a.prefix.length);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bad(
  code: 'ERR_CONFIG_VALUE' | 'ERR_CONFIG_MIDDLEWARE' | 'ERR_CONFIG_APPS',
  file: string,
  key: string,
  why: string,
  value: unknown,
): UsageError {
  return new UsageError(code, `${file}: ${key}: ${why}, got ${JSON.stringify(value)}`);
}
