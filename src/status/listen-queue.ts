// The kernel's accept queue of a TCP listener, read from /proc/net/tcp{,6} (Linux): the backlog operators watch.
import { readFileSync } from 'node:fs';

const TCP_LISTEN = '0A';

/**
 * For a listening socket, /proc/net/tcp shows the connections waiting to be accepted as rx_queue.
 * Null where this cannot be read (not Linux, no such listener).
 */
export function listenQueue(port: number): number | null {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let table: string;
    try {
      table = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    for (const line of table.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 5 || fields[3] !== TCP_LISTEN || !fields[1].endsWith(':' + hexPort)) continue;
      return parseInt(fields[4].split(':')[1], 16);
    }
  }
  return null;
}
