// The daemon of one process: listeners for each protocol, connection tracking, timeouts, graceful stop and retirement.
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { formatAddress, type ListenAddress } from './gateway/address';
import type { PeerFilter } from './gateway/allow';
import type { ConnectionHandler, ServeContext, TrackedConnection } from './gateway/context';
import { listenOn, removeSocketFile, type SocketOptions } from './gateway/listen';
import { serveHttp } from './http/connection';
import { serveFastCgi } from './fastcgi/connection';
import { serveScgi } from './scgi/connection';

export type ListenerProtocol = 'scgi' | 'fastcgi' | 'http';

export interface ListenerSpec {
  readonly protocol: ListenerProtocol;
  readonly address: ListenAddress;
}

export interface DaemonOptions {
  /** The context of connections from peers in `trusted` (the status path answers them). */
  readonly context: ServeContext;
  /** The context of every other connection (may be the same object). */
  readonly untrustedContext: ServeContext;
  /** Peers served with `context`; Unix-socket peers are passed as undefined. */
  readonly trusted: PeerFilter;
  readonly listeners: readonly ListenerSpec[];
  readonly sockets: SocketOptions;
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

/** What a retiring process does with a kept-alive connection it does not close. */
export type HandOff = (socket: net.Socket, protocol: ListenerProtocol) => void;

export class Daemon {
  private readonly listeners: Listener[] = [];
  private readonly connections = new Map<TrackedConnection, ListenerProtocol>();
  private readonly log: Logger;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(private readonly options: DaemonOptions) {
    this.log = options.context.log;
  }

  /** Binds every listener; resolves with the addresses actually bound, in order. */
  async start(): Promise<ListenAddress[]> {
    for (const spec of this.options.listeners) {
      const server = this.createServer(spec.protocol);
      const listener: Listener = { spec, server };
      this.listeners.push(listener);
      listener.bound = await listenOn(server, spec.address, this.options.sockets);
    }
    this.startSweeper();
    return this.listeners.map((l) => l.bound!);
  }

  /** Logs where each listener is reached (done once per daemon, by whichever process owns the listeners). */
  static logListening(log: Logger, specs: readonly ListenerSpec[], bound: readonly ListenAddress[]): void {
    specs.forEach((spec, i) => {
      const address = bound[i] ?? spec.address;
      log.info(
        {
          protocol: spec.protocol,
          address: formatAddress(address),
          ...(address.kind === 'fd' ? { fdName: address.name } : {}),
          reach: howToReach(spec.protocol, address),
        },
        'listening',
      );
    });
  }

  /**
   * One coarse sweep a second ends whatever ran past a timeout: no timer per request. A timeout set
   * below 4 s is swept more often, so that it fires within a quarter of itself.
   */
  private startSweeper(): void {
    const limits = this.options.context.limits;
    const shortest = Math.min(
      limits.headerTimeoutMs,
      limits.idleTimeoutMs,
      limits.requestTimeoutMs > 0 ? limits.requestTimeoutMs : Infinity,
    );
    const period = Math.max(50, Math.min(1000, Math.floor(shortest / 4)));
    this.sweeper = setInterval(() => {
      const now = performance.now();
      for (const connection of this.connections.keys()) connection.expire(now);
    }, period);
    this.sweeper.unref();
  }

  private contextFor(remote: string | undefined): ServeContext {
    return this.options.trusted.allows(remote) ? this.options.context : this.options.untrustedContext;
  }

  private createServer(protocol: ListenerProtocol): net.Server {
    const limits = this.options.context.limits;
    if (protocol === 'http') {
      const server = http.createServer((req, res) =>
        serveHttp(req, res, this.contextFor(req.socket.remoteAddress)),
      );
      server.maxConnections = limits.maxConnections;
      // After node:http's own listener: the socket is closed before its first byte is parsed.
      server.on('connection', (socket: net.Socket) => this.refused(socket, protocol));
      return server;
    }
    // Half-open: a front end may shut down its side once the request is sent and still read the response.
    const server = net.createServer({ allowHalfOpen: true, noDelay: true });
    server.maxConnections = limits.maxConnections;
    server.on('connection', (socket) => {
      if (!this.refused(socket, protocol)) this.serve(socket, protocol);
    });
    server.on('drop', (data) =>
      this.log.warn({ remote: data?.remoteAddress }, 'connection limit reached; dropped'),
    );
    return server;
  }

  /**
   * Closes a TCP connection from a peer outside --allow (or FCGI_WEB_SERVER_ADDRS), on every kind of
   * listener; true when it did. Unix sockets have no remote address: their file mode is the gate.
   */
  private refused(socket: net.Socket, protocol: ListenerProtocol): boolean {
    const allow = this.options.allow;
    if (allow === null || socket.remoteAddress === undefined || allow.allows(socket.remoteAddress))
      return false;
    this.log.warn(
      { protocol, remote: socket.remoteAddress },
      'connection from a peer not in --allow refused',
    );
    socket.destroy();
    return true;
  }

  private serve(socket: net.Socket, protocol: ListenerProtocol, handedOver = false): void {
    const handler = HANDLERS[protocol];
    if (handler === undefined) throw new Error(`no handler for ${protocol}`);
    const context = this.contextFor(socket.remoteAddress);
    context.load.accepted++;
    const connection = handler(socket, context, () => this.connections.delete(connection), handedOver);
    this.connections.set(connection, protocol);
  }

  /** Serves a kept-alive connection another process of this daemon handed over while retiring. */
  adopt(socket: net.Socket, protocol: ListenerProtocol): void {
    socket.setNoDelay(true);
    // Sockets passed between processes are made without allowHalfOpen; the handlers expect it.
    (socket as net.Socket & { allowHalfOpen: boolean }).allowHalfOpen = true;
    this.serve(socket, protocol, true);
  }

  /**
   * Stops accepting, lets requests in flight finish for up to `drainTimeoutMs`, then closes whatever
   * is left and removes Unix socket files. With `handOff`, kept-alive connections are passed on
   * between requests instead of being closed, and socket files stay: the listeners live on elsewhere.
   */
  async stop(drainTimeoutMs: number, handOff?: HandOff): Promise<void> {
    const closed = this.listeners.map((l) => new Promise<void>((resolve) => l.server.close(() => resolve())));
    for (const [connection, protocol] of this.connections) {
      if (handOff === undefined) {
        connection.shutdown();
        continue;
      }
      connection.retire((socket) => {
        this.connections.delete(connection);
        handOff(socket, protocol);
      });
    }
    for (const l of this.listeners) if (l.server instanceof http.Server) l.server.closeIdleConnections();
    const deadline = setTimeout(() => {
      this.log.warn({ open: this.connections.size }, 'drain timeout: closing connections still busy');
      for (const connection of this.connections.keys()) connection.destroy();
      for (const l of this.listeners) if (l.server instanceof http.Server) l.server.closeAllConnections();
    }, drainTimeoutMs);
    // A socket sent to another process stays counted by node's server until that process reports it
    // closed: when handing over, the connections tracked here are what is waited for.
    if (handOff === undefined) await Promise.all(closed);
    else await Promise.all(closed.filter((_, i) => this.listeners[i].server instanceof http.Server));
    // Connections adopted from another process were never the server's to wait for.
    while (this.connections.size > 0) await new Promise((r) => setTimeout(r, 10));
    clearTimeout(deadline);
    if (this.sweeper !== null) clearInterval(this.sweeper);
    // Shared listeners belong to the primary, which outlives this process.
    if (handOff === undefined && !this.options.sockets.shared) {
      await Promise.all(
        this.listeners.map((l) => (l.bound ? removeSocketFile(l.bound, this.log) : undefined)),
      );
    }
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
