// Closing a connection without a TCP reset: end our side, then discard unread input (capped) before closing.
import type { Socket } from 'node:net';
import type { Limits } from '../limits';

/**
 * Closing a socket with unread input makes the kernel send RST, which can destroy the response tail
 * still in flight to the front end. So: shut down our writes, read and discard what the front end
 * still sends, and close when it closes — or when the byte or time cap runs out.
 */
export function endAndDrain(socket: Socket, limits: Limits): void {
  if (socket.destroyed) return;
  let discarded = 0;
  const timer = setTimeout(() => socket.destroy(), limits.drainTimeoutMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.removeAllListeners('data');
  socket.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > limits.drainBytes) socket.destroy();
  });
  socket.end();
  socket.resume();
}
