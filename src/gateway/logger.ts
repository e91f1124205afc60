// The daemon's logger: pino JSON on stderr (stdout stays free for payloads), pretty on a terminal.
import pino, { type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  readonly level: LevelWithSilent;
  /** Human-readable lines instead of JSON; defaults to whether stderr is a terminal. */
  readonly pretty?: boolean;
}

export function createLogger(options: LoggerOptions): Logger {
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  if (pretty) {
    // Loaded only when wanted: it is the heaviest module the daemon would otherwise pull in.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const prettyStream = require('pino-pretty') as typeof import('pino-pretty');
    return pino({ level: options.level, base: { pid: process.pid } }, prettyStream({ destination: 2 }));
  }
  return pino({ level: options.level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}
