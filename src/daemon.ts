// The daemon: listeners for each protocol, connection tracking, graceful stop.
import http from 'node:http';
import net from 'node:net';
import type { Logger } from 'pino';
import { formatAddress, type ListenAddress } from './gateway/address';
import type { PeerFilter } from './gateway/allow';
import type { ConnectionHandler, ServeContext, TrackedConnection } from './gateway/context';
import { listenOn, removeSocketFile } from './gateway/listen';
import { serveHttp } from './http/connection';
import { serveFastCgi } from './fastcgi/connection';
import { serveScgi } from './scgi/connection';

export type ListenerProtocol = 'scgi' | 'fastcgi' | 'http';

export interface ListenerSpec {
  readonly protocol: ListenerProtocol;
  readonly address: ListenAddress;
}

export interface DaemonOptions {
  readonly context: ServeContext;
  readonly listeners: readonly ListenerSpec[];
  /** Mode of Unix socket files (default 0o660). */
  readonly socketMode: number;
  /** TCP peers allowed on the SCGI and FastCGI listeners; null allows any. */
  readonly allow: PeerFilter | null;
}

const HANDLERS: Partial<Record<ListenerProtocol, ConnectionHandler>> = {
  scgi: serveScgi,
  fastcgi: serveFastCgi,
};

interface Listener {
  readonly spec: ListenerSpec;
  readonly server: net.Server;
  bound?: ListenAddress;
}

export class Daemon {
  private readonly listeners: Listener[] = [];
  private readonly connections = new Set<TrackedConnection>();
  private readonly log: Logger;

  constructor(private readonly options: DaemonOptions) {
    this.log = options.context.log;
  }

  /** Binds every listener; resolves with the addresses actually bound, in order. */
  async start(): Promise<ListenAddress[]> {
    for (const spec of this.options.listeners) {
      const server = this.createServer(spec.protocol);
      const listener: Listener = { spec, server };
      this.listeners.push(listener);
      listener.bound = await listenOn(server, spec.address, this.options.socketMode);
      this.log.info(
        {
          protocol: spec.protocol,
          address: formatAddress(listener.bound),
          reach: howToReach(spec.protocol, listener.bound),
        },
        'listening',
      );
    }
    return this.listeners.map((l) => l.bound!);
  }

  private createServer(protocol: ListenerProtocol): net.Server {
    const context = this.options.context;
    if (protocol === 'http') {
      const server = http.createServer((req, res) => serveHttp(req, res, context));
      server.maxConnections = context.limits.maxConnections;
      return server;
    }
    const handler = HANDLERS[protocol];
    if (handler === undefined) throw new Error(`no handler for ${protocol}`);
    // Half-open: a front end may shut down its side once the request is sent and still read the response.
    const server = net.createServer({ allowHalfOpen: true, noDelay: true });
    server.maxConnections = context.limits.maxConnections;
    const allow = this.options.allow;
    server.on('connection', (socket) => {
      // Unix sockets have no remote address: their file mode is the gate.
      if (allow !== null && socket.remoteAddress !== undefined && !allow.allows(socket.remoteAddress)) {
        this.log.warn(
          { protocol, remote: socket.remoteAddress },
          'connection from a peer not in --allow refused',
        );
        socket.destroy();
        return;
      }
      const connection = handler(socket, context, () => this.connections.delete(connection));
      this.connections.add(connection);
    });
    server.on('drop', (data) =>
      this.log.warn({ remote: data?.remoteAddress }, 'connection limit reached; dropped'),
    );
    return server;
  }

  /**
   * Stops accepting, lets requests in flight finish for up to `drainTimeoutMs`, then closes whatever
   * is left and removes Unix socket files.
   */
  async stop(drainTimeoutMs: number): Promise<void> {
    const closed = this.listeners.map((l) => new Promise<void>((resolve) => l.server.close(() => resolve())));
    for (const connection of this.connections) connection.shutdown();
    for (const l of this.listeners) if (l.server instanceof http.Server) l.server.closeIdleConnections();
    const deadline = setTimeout(() => {
      this.log.warn({ open: this.connections.size }, 'drain timeout: closing connections still busy');
      for (const connection of this.connections) connection.destroy();
      for (const l of this.listeners) if (l.server instanceof http.Server) l.server.closeAllConnections();
    }, drainTimeoutMs);
    await Promise.all(closed);
    clearTimeout(deadline);
    await Promise.all(this.listeners.map((l) => (l.bound ? removeSocketFile(l.bound) : undefined)));
  }
}

/** A hint for the log: how a person or a front end reaches this listener. */
function howToReach(protocol: ListenerProtocol, address: ListenAddress): string {
  const target = address.kind === 'unix' ? `unix:${address.path}` : formatAddress(address);
  switch (protocol) {
    case 'http':
      return `open http://${formatAddress(address)}/ (development listener)`;
    case 'scgi':
      return `nginx: include scgi_params; scgi_pass ${target};`;
    case 'fastcgi':
      return `nginx: include fastcgi_params; fastcgi_pass ${target};`;
  }
}
