// Closing a connection without a TCP reset: end our side, then discard unread input (capped) before closing.
import type { Socket } from 'node:net';
import type { Limits } from './limits';

/**
 * Closing a socket with unread input makes the kernel send RST, which can destroy the response tail
 * still in flight to the front end. So: shut down our writes, read and discard what the front end
 * still sends, and close when it closes — or when the byte or time cap runs out.
 */
export function endAndDrain(socket: Socket, limits: Limits): void {
  if (socket.destroyed) return;
  let discarded = 0;
  const timer = setTimeout(() => socket.destroy(), limits.lingerTimeout);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.removeAllListeners('data');
  socket.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > limits.lingerBytes) socket.destroy();
  });
  socket.end();
  socket.resume();
}

/**
 * The promise writers await while a socket's buffer is full. It settles on 'drain' and also on
 * 'close', so a writer waiting on a dead connection is never left hanging.
 */
export class DrainGate {
  private waiter: Promise<void> | null = null;
  private release: (() => void) | null = null;

  constructor(socket: Socket) {
    socket.on('drain', () => this.open());
    socket.on('close', () => this.open());
  }

  /** Undefined when the write was taken at once (`flushed`), else the promise to await. */
  wait(flushed: boolean): Promise<void> | undefined {
    if (flushed) return undefined;
    this.waiter ??= new Promise((resolve) => (this.release = resolve));
    return this.waiter;
  }

  private open(): void {
    const release = this.release;
    this.waiter = null;
    this.release = null;
    release?.();
  }
}
