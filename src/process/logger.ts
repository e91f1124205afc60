// The daemon's logger: pino JSON on stderr (stdout stays free for payloads) or a file, pretty on a terminal.
import pino, { type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  readonly level: LevelWithSilent;
  /** Human-readable lines instead of JSON; defaults to whether stderr is a terminal. */
  readonly pretty?: boolean;
  /** Append to this file instead of writing to stderr; reopened by {@link reopenLogFiles}. */
  readonly file?: string;
}

/** A destination that logrotate may move away: reopened on SIGUSR2. */
export interface ReopenableFile {
  reopen(): void;
}

const files = new Set<ReopenableFile>();

/** Files opened by this process that logrotate may rotate. */
export function registerLogFile(file: ReopenableFile): void {
  files.add(file);
}

/** A file closed for good: no longer reopened (an embedded server closed, a log replaced). */
export function unregisterLogFile(file: ReopenableFile): void {
  files.delete(file);
}

/**
 * Reopens every log file by name (after logrotate moved the old ones away), and says so in the new
 * log file: the line shows each process picked up the signal.
 */
export function reopenLogFiles(log: Logger): void {
  for (const file of files) file.reopen();
  log.info({ files: files.size }, 'log files reopened');
}

export function createLogger(options: LoggerOptions): Logger {
  const base = { pid: process.pid };
  if (options.file !== undefined) {
    // Synchronous: the last lines before an exit or a crash must reach the file.
    const destination = pino.destination({ dest: options.file, sync: true, mkdir: true });
    registerLogFile(destination);
    return pino({ level: options.level, base }, destination);
  }
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  if (pretty) {
    // Loaded only when wanted: it is the heaviest module the daemon would otherwise pull in.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const prettyStream = require('pino-pretty') as typeof import('pino-pretty');
    return pino({ level: options.level, base }, prettyStream({ destination: 2 }));
  }
  return pino({ level: options.level, base }, pino.destination({ fd: 2, sync: true }));
}
