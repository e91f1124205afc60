// Passing a live socket to another process without losing a byte: its handle must stop reading first.
import type { Socket } from 'node:net';

/**
 * socket.pause() only stops 'data' events: libuv goes on reading into the stream's buffer, and a
 * handle being sent keeps reading (into a no-op) until the receiver acknowledges it. Whatever the
 * front end sends meanwhile would be lost; stopped, it waits in the kernel for the next process.
 */
export function stopReading(socket: Socket): void {
  (socket as unknown as { _handle?: { readStop?: () => number } | null })._handle?.readStop?.();
}
