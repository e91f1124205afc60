// How many file descriptors this process may open and how many it has open (Linux /proc).
import { readdirSync, readFileSync } from 'node:fs';

/** The soft limit on open files from the text of /proc/<pid>/limits; null when unlimited or absent. */
export function parseOpenFileLimit(limits: string): number | null {
  const line = /^Max open files\s+(\S+)/m.exec(limits);
  if (line === null || line[1] === 'unlimited') return null;
  const soft = Number(line[1]);
  return Number.isSafeInteger(soft) && soft > 0 ? soft : null;
}

/** This process's soft RLIMIT_NOFILE (Node has no getrlimit); null where /proc cannot tell. */
export function openFileLimit(): number | null {
  try {
    return parseOpenFileLimit(readFileSync('/proc/self/limits', 'latin1'));
  } catch {
    return null;
  }
}

/**
 * Descriptors open in this process; Infinity when there are none left even to count them with, null
 * where /proc cannot tell.
 */
export function countOpenDescriptors(): number | null {
  try {
    // The directory's own descriptor is listed while it is read.
    return readdirSync('/proc/self/fd').length - 1;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'EMFILE' || code === 'ENFILE' ? Infinity : null;
  }
}
