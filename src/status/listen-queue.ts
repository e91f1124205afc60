// The kernel's accept queue of each listener (Linux): the backlog operators watch. TCP from
// /proc/net/tcp{,6}; Unix sockets from `ss`, since /proc/net/unix does not show queue lengths.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { socketBindingName, type ListenAddress } from '../common/address';

const TCP_LISTEN = '0A';

/** Connections waiting to be accepted, per address; null where the kernel does not tell us. */
export async function listenQueues(addresses: readonly ListenAddress[]): Promise<Array<number | null>> {
  const unix = addresses.some((a) => a.kind === 'unix')
    ? await unixListenQueues()
    : new Map<string, number>();
  return addresses.map((address) => {
    if (address.kind === 'tcp') return tcpListenQueue(address.port);
    // Bound by this process under a temporary name, the kernel knows the socket by that name.
    if (address.kind === 'unix')
      return unix.get(address.path) ?? unix.get(socketBindingName(address.path, process.pid)) ?? null;
    return null;
  });
}

/**
 * For a listening socket, /proc/net/tcp shows the connections waiting to be accepted as rx_queue.
 * Null where this cannot be read (not Linux, no such listener).
 */
function tcpListenQueue(port: number): number | null {
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

// `u_str LISTEN <Recv-Q> <Send-Q> <path> <inode> * 0`: for a listener Recv-Q is the accept queue.
// The path may hold spaces, hence the anchoring on the fields around it.
const SS_UNIX_LISTENER = /^u_str\s+LISTEN\s+(\d+)\s+\d+\s+(.+)\s+\d+\s+\*\s+\d+\s*$/;

/** Accept queue by socket path, from `ss -xln`; empty when ss is missing or fails. */
export function parseUnixListeners(output: string): Map<string, number> {
  const queues = new Map<string, number>();
  for (const line of output.split('\n')) {
    const match = SS_UNIX_LISTENER.exec(line);
    if (match !== null) queues.set(match[2], Number(match[1]));
  }
  return queues;
}

function unixListenQueues(): Promise<Map<string, number>> {
  return new Promise((resolve) => {
    execFile('ss', ['-xlnH'], { timeout: 1000 }, (error, stdout) =>
      resolve(error ? new Map() : parseUnixListeners(stdout)),
    );
  });
}
