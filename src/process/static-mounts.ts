// --static's directories, resolved once at start: a missing one stops sluice before it serves anything.
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors';
import type { StaticMount } from '../middleware/static-files';

/**
 * Each `PREFIX=DIR` (as the settings table checked it) with DIR's real path, relative to `cwd`:
 * the working directory, like the app module (after --chdir, which check-config does not enter).
 *
 * @throws UsageError `ERR_USAGE_STATIC` when DIR is missing, unreadable or not a directory.
 */
export function staticMounts(specs: readonly string[], cwd = process.cwd()): StaticMount[] {
  return specs.map((spec) => {
    const equals = spec.indexOf('=');
    const prefix = spec.slice(0, equals);
    const dir = path.resolve(cwd, spec.slice(equals + 1));
    let root: string;
    try {
      root = realpathSync(dir);
    } catch (error) {
      throw new UsageError(
        'ERR_USAGE_STATIC',
        `--static ${spec}: cannot use ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
    if (!statSync(root).isDirectory()) {
      throw new UsageError('ERR_USAGE_STATIC', `--static ${spec}: ${dir} is not a directory`);
    }
    return { prefix, root };
  });
}
