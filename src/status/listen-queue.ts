// The kernel's accept queue of a TCP listener, read from /proc/net/tcp{,6} (Linux): the backlog operators watch.
import { readFileSync } from 'node:fs';

const TCP_LISTEN = '0A';

export interface ListenQueue {
  readonly queued: number;
  readonly backlog: number;
}

/**
 * For a listening socket, /proc/net/tcp shows the connections waiting to be accepted as rx_queue
 * and the queue's limit as tx_queue. Null where this cannot be read (not Linux, no such listener).
 */
export function listenQueue(port: number): ListenQueue | null {
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
      const [tx, rx] = fields[4].split(':');
      return { queued: parseInt(rx, 16), backlog: parseInt(tx, 16) };
    }
  }
  return null;
}
