// `--config sluice.json`: the long flags in camelCase as keys, each value checked like the flag's.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors';
import { isCompositionKey, parseComposition } from './composition';
import { optionSpec, parseValue, type GivenOptions } from './options';
import { BadValue } from './parse';

/** Reads and checks a config file; every error names the file, the key and the value. */
export function readConfigFile(path: string): GivenOptions {
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      'ERR_CONFIG_READ',
      `cannot read config file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(source);
  } catch (error) {
    throw new UsageError('ERR_CONFIG_SYNTAX', `${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new UsageError('ERR_CONFIG_SYNTAX', `${path} must hold a JSON object of settings`);
  }
  return checkConfig(data as Record<string, unknown>, path);
}

/**
 * Checks parsed settings; `where`, the file's path, prefixes every error message, and relative module
 * paths of the composition keys resolve from its directory (docs/config.md).
 */
export function checkConfig(data: Record<string, unknown>, where: string): GivenOptions {
  const given: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    if (key === 'app') {
      if (typeof value !== 'string' || value === '')
        throw badValue(where, key, value, 'expected a module path');
      given.app = value;
      continue;
    }
    if (isCompositionKey(key)) {
      given[key] = parseComposition(key, value, path.resolve(where));
      continue;
    }
    const spec = optionSpec(key);
    if (spec === undefined) {
      throw new UsageError(
        'ERR_CONFIG_KEY',
        `${where}: unknown key ${JSON.stringify(key)} (keys are the long flags in camelCase, such as "maxRequests", "app", "apps", "middleware" and "settings")`,
      );
    }
    try {
      given[key] = parseValue(spec, value);
    } catch (error) {
      if (!(error instanceof BadValue)) throw error;
      throw badValue(where, key, value, error.message);
    }
  }
  return given as GivenOptions;
}

function badValue(where: string, key: string, value: unknown, why: string): UsageError {
  return new UsageError('ERR_CONFIG_VALUE', `${where}: ${key}: ${why}, got ${JSON.stringify(value)}`);
}
