// A connection that misbehaves on purpose: bytes written when the test says, nothing read unless
// asked, and a record of who closed it and when.
import net from 'node:net';
import { netConnectOptions } from '../../src/client/connect';

export interface Closed {
  /** 'daemon': it ended or reset the connection; 'client': we vanished first. */
  by: 'daemon' | 'client';
  /** ms from connecting. */
  afterMs: number;
  received: Buffer;
}

export class RawConnection {
  readonly socket: net.Socket;
  readonly closed: Promise<Closed>;
  private readonly chunks: Buffer[] = [];
  private readonly opened = Date.now();
  private vanished = false;

  /** `allowHalfOpen`: our side may end its writes and keep reading (shutdown(SHUT_WR)). */
  constructor(address: string, allowHalfOpen = false) {
    this.socket = net.connect({ ...netConnectOptions(address), allowHalfOpen });
    this.socket.on('data', (chunk: Buffer) => this.chunks.push(chunk));
    this.closed = new Promise((resolve) => {
      // A reset by the daemon is one way of closing; nothing here is the test's error.
      this.socket.on('error', () => {});
      this.socket.on('close', () =>
        resolve({
          by: this.vanished ? 'client' : 'daemon',
          afterMs: Date.now() - this.opened,
          received: this.received,
        }),
      );
    });
  }

  get received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  get isClosed(): boolean {
    return this.socket.destroyed;
  }

  write(bytes: Buffer | string): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Stops reading: what the daemon writes stays in the kernel buffers and then in its own. */
  stall(): void {
    this.socket.pause();
  }

  /** Ends our writes (a FIN) and keeps reading: the daemon sees EOF on a connection still open. */
  endWrites(): void {
    this.socket.end();
  }

  /** Goes away without a word: a FIN, or over TCP with `reset` an RST as a crashed client sends. */
  vanish(reset = false): void {
    this.vanished = true;
    if (reset && this.socket.remoteFamily !== undefined) this.socket.resetAndDestroy();
    else this.socket.destroy();
  }

  /** Resolves once the daemon closed the connection, rejects after `timeoutMs` (closing it then). */
  async closedByDaemon(timeoutMs: number): Promise<Closed> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.vanish();
        reject(
          new Error(
            `the daemon kept the connection open ${timeoutMs} ms; received ${this.received.length} bytes`,
          ),
        );
      }, timeoutMs);
    });
    try {
      const closed = await Promise.race([this.closed, expired]);
      if (closed.by !== 'daemon') throw new Error('the connection was closed on our side');
      return closed;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Opens `count` connections, resolving once each is connected (a refused one rejects). */
export async function openConnections(
  address: (i: number) => string,
  count: number,
  allowHalfOpen = false,
): Promise<RawConnection[]> {
  const connections = Array.from({ length: count }, (_, i) => new RawConnection(address(i), allowHalfOpen));
  await Promise.all(
    connections.map(
      (c) =>
        new Promise<void>((resolve, reject) => {
          c.socket.once('connect', () => resolve());
          c.socket.once('error', reject);
        }),
    ),
  );
  return connections;
}
