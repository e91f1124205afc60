// --pid-file: the PID of the process that signals go to, written at start and removed at exit.
import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors';

export function writePidFile(file: string | undefined): void {
  if (file === undefined) return;
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${process.pid}\n`);
  } catch (error) {
    throw new UsageError(
      'ERR_USAGE_PID_FILE',
      `cannot write --pid-file ${file}: ${(error as NodeJS.ErrnoException).code}`,
    );
  }
}

export function removePidFile(file: string | undefined): void {
  if (file === undefined) return;
  try {
    unlinkSync(file);
  } catch {
    // Gone already, or no longer ours to remove after dropping privileges.
  }
}
