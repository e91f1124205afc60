// The daemon of one process: listeners for each protocol, connection tracking, timeouts, graceful stop and retirement.
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { formatAddress, type ListenAddress } from '../common/address';
import type { PeerFilter } from '../common/allow';
import { LiveSet } from '../common/live-set';
import type { ConnectionHandler, ServeContext, TrackedConnection } from '../runtime/context';
import type { Limits } from '../runtime/limits';
import { fullCollection, IdleCollector } from './idle-collector';
import { DescriptorBudget } from './descriptor-budget';
import { countOpenDescriptors, openFileLimit } from './descriptors';
import { listenOn, listenOnHandle, type Bound, type ListenHandle, type SocketOptions } from './listen';
import { removeOwnSocketFile } from './socket-file';
import { acceptQueued } from './accept-queue';
import { serveHttp } from '../http/connection';
import { serveFastCgi } from '../fastcgi/connection';
import { serveScgi } from '../scgi/connection';

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
  /**
   * Fresh copies of the listening sockets, in listener order, from the process that holds them (a
   * worker's primary). With it, accepting pauses by closing this process's copies, connections
   * waiting in the listen queue meanwhile; without, they are closed as they are accepted.
   */
  readonly reacquire: (() => Promise<readonly ListenHandle[]>) | null;
  /**
   * Collect garbage once idle after a burst (IdleCollector): it turns on --expose-gc and collects
   * the whole process's heap, which only a process that is sluice's own should do. Default true.
   */
  readonly collectIdleGarbage?: boolean;
}

/** Accepting paused for want of file descriptors (see DescriptorBudget). */
interface DescriptorPause {
  readonly since: number;
  /** The listeners were closed (not only new connections). */
  readonly listenersClosed: boolean;
  /** Connections closed as accepted meanwhile. */
  shed: number;
}

const HANDLERS: Partial<Record<ListenerProtocol, ConnectionHandler>> = {
  scgi: serveScgi,
  fastcgi: serveFastCgi,
};

interface Listener {
  readonly spec: ListenerSpec;
  readonly server: net.Server;
  bound?: Bound;
}

/** A connection the daemon tracks for its timeouts and for a graceful stop. */
interface Tracked {
  readonly connection: TrackedConnection;
  readonly protocol: ListenerProtocol;
  /** Stops tracking it; called when it closes, or when it is handed to another process. */
  readonly untrack: () => void;
}

/** What a retiring process does with a kept-alive connection it does not close. */
export type HandOff = (socket: net.Socket, protocol: ListenerProtocol) => void;

export class Daemon {
  private readonly listeners: Listener[] = [];
  private readonly connections = new LiveSet<Tracked>();
  private readonly log: Logger;
  private sweeper: NodeJS.Timeout | null = null;
  private budget: DescriptorBudget | null = null;
  /** Descriptors open besides connections, as last counted: a count per connection would cost too much. */
  private otherDescriptors = 0;
  private descriptorCount: NodeJS.Timeout | null = null;
  private descriptorPause: DescriptorPause | null = null;
  private stopping = false;
  /** Connections accepted on every listener, refused and shed ones included. */
  private accepted = 0;

  constructor(private readonly options: DaemonOptions) {
    this.log = options.context.log;
  }

  /** Binds every listener; resolves with the addresses actually bound, in order. */
  async start(): Promise<ListenAddress[]> {
    for (const spec of this.options.listeners) {
      const server = this.createServer(spec.protocol);
      server.prependListener('connection', () => void this.accepted++);
      const listener: Listener = { spec, server };
      this.listeners.push(listener);
      listener.bound = await listenOn(server, spec.address, this.options.sockets);
    }
    this.startSweeper();
    this.watchDescriptors();
    return this.listeners.map((l) => l.bound!.address);
  }

  /** Logs where each listener is reached (done once per daemon, by whichever process owns the listeners). */
  static logListening(log: Logger, specs: readonly ListenerSpec[], bound: readonly ListenAddress[]): void {
    specs.forEach((spec, i) => {
      const address = bound[i] ?? spec.address;
      log.info(
        {
          protocol: spec.protocol,
          address: formatAddress(address),
          ...(address.kind === 'fd' && address.name !== undefined ? { fdName: address.name } : {}),
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
    const period = sweepPeriod(this.options.context.limits);
    const load = this.options.context.load;
    const collector =
      this.options.collectIdleGarbage === false
        ? null
        : new IdleCollector(fullCollection(), () => process.memoryUsage.rss());
    this.sweeper = setInterval(() => {
      const now = performance.now();
      for (const { connection } of this.connections.values()) connection.expire(now);
      if (collector?.tick(now, load.active, load.requests))
        this.log.debug({ rss: process.memoryUsage.rss() }, 'idle: garbage collected');
    }, period);
    this.sweeper.unref();
  }

  /** Where /proc tells the open-file limit and what is open, accepting stays within them. */
  private watchDescriptors(): void {
    const limit = openFileLimit();
    if (limit === null || countOpenDescriptors() === null) return;
    this.budget = new DescriptorBudget(limit);
    this.countDescriptors();
  }

  /** Counts what is open (also what the app opened): every second, every 100 ms while paused. */
  private countDescriptors(): void {
    const open = countOpenDescriptors() ?? 0;
    if (open !== Infinity) this.otherDescriptors = open - this.connections.size;
    this.observeDescriptors(open);
    this.scheduleDescriptorCount();
  }

  private scheduleDescriptorCount(): void {
    if (this.descriptorCount !== null) clearTimeout(this.descriptorCount);
    if (this.stopping) return;
    const period = this.descriptorPause === null ? 1000 : 100;
    this.descriptorCount = setTimeout(() => this.countDescriptors(), period);
    this.descriptorCount.unref();
  }

  private observeDescriptors(open: number): void {
    const change = this.budget?.observe(open) ?? null;
    if (change === 'pause') this.pauseAccepting(open);
    else if (change === 'resume') void this.resumeAccepting(open);
  }

  private pauseAccepting(open: number): void {
    const budget = this.budget!;
    const listenersClosed = this.options.reacquire !== null;
    this.descriptorPause = { since: performance.now(), listenersClosed, shed: 0 };
    this.options.context.load.descriptorPauses++;
    this.log.warn(
      { open, limit: budget.limit, resumeAt: budget.resumeAt, connections: this.connections.size },
      listenersClosed
        ? 'out of file descriptors: accepting paused, new connections wait in the listen queue'
        : 'out of file descriptors: new connections are closed until some are free',
    );
    if (listenersClosed) for (const l of this.listeners) l.server.close();
    this.scheduleDescriptorCount();
  }

  private async resumeAccepting(open: number): Promise<void> {
    const pause = this.descriptorPause!;
    this.descriptorPause = null;
    const logResumed = (): void =>
      this.log.info(
        { open, pausedMs: Math.round(performance.now() - pause.since), closed: pause.shed },
        'accepting resumed',
      );
    if (!pause.listenersClosed) return logResumed();
    let handles: readonly ListenHandle[];
    try {
      handles = await this.options.reacquire!();
    } catch (error) {
      this.log.error({ err: error }, 'cannot get the listening sockets back: not accepting');
      return;
    }
    // Stopped, or out of descriptors again, while the copies were on their way.
    if (this.stopping || this.descriptorPause !== null) {
      for (const handle of handles) handle.close();
      return;
    }
    await Promise.all(
      this.listeners.map((l, i) => listenOnHandle(l.server, handles[i], this.options.sockets.backlog)),
    );
    logResumed();
  }

  /** Closes a connection accepted while out of descriptors with nowhere to wait; true when it did. */
  private shed(socket: net.Socket): boolean {
    if (this.descriptorPause === null) return false;
    this.descriptorPause.shed++;
    this.options.context.load.descriptorRefused++;
    socket.destroy();
    return true;
  }

  private contextFor(remote: string | undefined): ServeContext {
    return this.options.trusted.allows(remote) ? this.options.context : this.options.untrustedContext;
  }

  private createServer(protocol: ListenerProtocol): net.Server {
    const limits = this.options.context.limits;
    if (protocol === 'http') {
      const server = http.createServer(
        // Node parses the head: the same limits as the other listeners' parsers, and no timeout of
        // its own past the head (--request-timeout is the request core's).
        {
          maxHeaderSize: limits.maxHeaderBytes,
          headersTimeout: limits.headerTimeout,
          requestTimeout: 0,
          // Node checks headersTimeout this often (30 s by default): as often as the sweep below.
          connectionsCheckingInterval: sweepPeriod(limits),
        },
        (req, res) => {
          this.track(protocol, (onClose) =>
            serveHttp(req, res, this.contextFor(req.socket.remoteAddress), onClose),
          );
        },
      );
      server.maxConnections = limits.maxConnections;
      // After node:http's own listener: the socket is closed before its first byte is parsed.
      server.on('connection', (socket: net.Socket) => this.refused(socket, protocol) || this.shed(socket));
      return server;
    }
    // Half-open: a front end may shut down its side once the request is sent and still read the response.
    const server = net.createServer({ allowHalfOpen: true, noDelay: true });
    server.maxConnections = limits.maxConnections;
    server.on('connection', (socket) => {
      if (this.refused(socket, protocol) || this.shed(socket)) return;
      this.serve(socket, protocol);
      this.observeDescriptors(this.otherDescriptors + this.connections.size);
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
    this.track(protocol, (onClose) => handler(socket, context, onClose, handedOver));
  }

  /** Tracks the connection `open` makes until it calls the `onClose` it was given. */
  private track(protocol: ListenerProtocol, open: (onClose: () => void) => TrackedConnection): void {
    // Node emits 'close' on a later tick: a connection is tracked before it can close.
    let untrack = (): void => undefined;
    const connection = open(() => untrack());
    untrack = this.connections.add({ connection, protocol, untrack: () => untrack() });
  }

  /** Serves a kept-alive connection another process of this daemon handed over while retiring. */
  adopt(socket: net.Socket, protocol: ListenerProtocol): void {
    socket.setNoDelay(true);
    // Sockets passed between processes are made without allowHalfOpen; the handlers expect it.
    (socket as net.Socket & { allowHalfOpen: boolean }).allowHalfOpen = true;
    this.serve(socket, protocol, true);
  }

  /**
   * Removes Unix socket files, accepts what was queued, stops accepting, lets requests in flight
   * finish for up to `drainTimeout`, then closes whatever is left. With `handOff`, kept-alive
   * connections are passed on between requests instead of being closed, and socket files stay: the
   * listeners live on elsewhere.
   */
  async stop(drainTimeout: number, handOff?: HandOff): Promise<void> {
    this.stopping = true;
    if (this.descriptorCount !== null) clearTimeout(this.descriptorCount);
    if (handOff === undefined) {
      // Shared listeners belong to the primary, which removed their files before telling this
      // process to stop: none were made here.
      await Promise.all(
        this.listeners.map((l) => (l.bound?.file ? removeOwnSocketFile(l.bound.file, this.log) : undefined)),
      );
      await acceptQueued(() => this.accepted, this.options.sockets.backlog);
    }
    const closed = this.listeners.map((l) => new Promise<void>((resolve) => l.server.close(() => resolve())));
    for (const { connection, protocol, untrack } of this.connections.values()) {
      if (handOff === undefined) {
        connection.shutdown();
        continue;
      }
      connection.retire((socket) => {
        untrack();
        handOff(socket, protocol);
      });
    }
    for (const l of this.listeners) if (l.server instanceof http.Server) l.server.closeIdleConnections();
    const deadline = setTimeout(() => {
      this.log.warn({ open: this.connections.size }, 'drain timeout: closing connections still busy');
      for (const { connection } of this.connections.values()) connection.destroy();
      for (const l of this.listeners) if (l.server instanceof http.Server) l.server.closeAllConnections();
    }, drainTimeout);
    // A socket sent to another process stays counted by node's server until that process reports it
    // closed: when handing over, the connections tracked here are what is waited for.
    if (handOff === undefined) await Promise.all(closed);
    else await Promise.all(closed.filter((_, i) => this.listeners[i].server instanceof http.Server));
    // Connections adopted from another process were never the server's to wait for.
    while (this.connections.size > 0) await new Promise((r) => setTimeout(r, 10));
    clearTimeout(deadline);
    if (this.sweeper !== null) clearInterval(this.sweeper);
  }
}

/** How often timeouts are looked at: once a second, or four times per timeout shorter than 4 s. */
function sweepPeriod(limits: Limits): number {
  const shortest = Math.min(
    limits.headerTimeout,
    limits.idleTimeout,
    limits.requestTimeout > 0 ? limits.requestTimeout : Infinity,
  );
  return Math.max(50, Math.min(1000, Math.floor(shortest / 4)));
}

/** A hint for the log: how a person or a front end reaches this listener. */
function howToReach(protocol: ListenerProtocol, address: ListenAddress): string {
  // An inherited socket was bound by whoever started sluice (systemd, a spawning web server): the
  // front end reaches it where that process bound it, which sluice cannot name.
  if (address.kind === 'fd') return `inherited socket fd ${address.fd}: reached where its owner bound it`;
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
