// Exit codes, as documented in docs/cli.md, and the mapping from what went wrong to them.
import { CommanderError } from 'commander';
import { SluiceError, UsageError } from '../errors';

export const EXIT = {
  OK: 0,
  /** A failure at run time, or a second stop signal. */
  FAILURE: 1,
  /** A command line, config file or start-up problem. */
  USAGE: 2,
  /** Every worker slot is crash-looping: systemd's Restart= takes over from here. */
  CRASH_LOOP: 3,
} as const;

/** Reports `error` on stderr (a message, not a stack, for usage errors) and returns its exit code. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT.OK;
    if (error.code === 'commander.help') return EXIT.OK;
    return EXIT.USAGE;
  }
  if (error instanceof UsageError) {
    process.stderr.write(`sluice: ${error.message}\n`);
    return EXIT.USAGE;
  }
  if (error instanceof SluiceError) {
    process.stderr.write(`sluice: ${error.message}\n`);
    if (error.cause instanceof Error && error.cause.stack) process.stderr.write(error.cause.stack + '\n');
    return EXIT.FAILURE;
  }
  process.stderr.write(`sluice: ${(error as Error)?.stack ?? String(error)}\n`);
  return EXIT.FAILURE;
}
