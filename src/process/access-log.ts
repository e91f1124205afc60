// The access log: one JSON line per request, written in one call to a buffered file stream.
import pino from 'pino';
import type { AccessEntry, AccessSink } from '../runtime/meter';
import { registerLogFile, unregisterLogFile } from './logger';

export class AccessLog implements AccessSink {
  private readonly stream: ReturnType<typeof pino.destination>;

  /** `target` is a file path (appended to, created with its directory) or `-` for stdout. */
  constructor(
    target: string,
    private readonly worker: number,
  ) {
    // Buffered and written asynchronously: a request costs one string and one call, not one syscall.
    this.stream =
      target === '-'
        ? pino.destination({ fd: 1, sync: false })
        : pino.destination({ dest: target, sync: false, mkdir: true });
    if (target !== '-') registerLogFile(this.stream);
  }

  write(entry: AccessEntry): void {
    this.stream.write(
      `{"time":"${new Date().toISOString()}","worker":${this.worker},"req":${entry.requestId},` +
        `"method":${JSON.stringify(entry.method)},"uri":${JSON.stringify(entry.uri)},` +
        `"status":${entry.status},"bytes":${entry.bytes},"ms":${entry.ms.toFixed(3)}}\n`,
    );
  }

  /** Writes what is buffered and closes the file. */
  close(): Promise<void> {
    unregisterLogFile(this.stream);
    return new Promise((resolve) => {
      this.stream.once('close', () => resolve());
      this.stream.once('error', () => resolve());
      this.stream.end();
    });
  }
}
