// The socket a Node request handler sees as `req.socket` and `res.socket`: the client's addresses as
// the front end reports them, and the connection's lifetime; no bytes travel through it.
import { Duplex } from 'node:stream';
import type { Environ } from '../gateway/types';

/**
 * Idle sockets kept per adapted listener: enough for the requests a front end keeps in flight at
 * once (nginx: one per upstream connection); past it, finished sockets are destroyed.
 */
const MAX_IDLE_SOCKETS = 64;

/**
 * Requests one socket carries before it is retired, as nginx's keepalive_requests bounds an upstream
 * connection: whatever an app leaves attached to `req.socket` is then let go of.
 */
const MAX_REQUESTS_PER_SOCKET = 1000;

/** What a socket tells the request it carries when it is destroyed. */
export interface SocketUser {
  socketDestroyed(error: Error | null): void;
}

/**
 * A stand-in for the front end's connection to a node:http server, as light-my-request's null socket:
 * a real stream, so that `finished()`, `destroy()` and the listeners frameworks put on `req.socket`
 * behave as on a net.Socket, with `remoteAddress`, `remotePort` and `encrypted` from the environ.
 *
 * Requests travel as objects, not as bytes: the adapter builds the IncomingMessage and takes the
 * ServerResponse's head and body before they are serialized. Only the interim heads a ServerResponse
 * writes straight to its socket (`writeContinue()`, `writeProcessing()`, `writeEarlyHints()`) arrive
 * here, and are dropped: the front end answers 100 Continue itself, and CGI carries no other 1xx.
 *
 * A socket whose request ended cleanly serves the next one, as a kept-alive connection from a front
 * end carries one client's request after another's; `req.socket` is then shared by successive
 * requests, as it is behind nginx's `keepalive`.
 */
export class GatewaySocket extends Duplex {
  // The addresses of the request being served: set by begin().
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  remoteFamily: string | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
  /** As on a TLS socket: true when the front end says the client connection is HTTPS. */
  encrypted: true | undefined;
  /** The request being served; null while the socket waits in the idle pool. */
  user: SocketUser | null = null;
  /** Requests served, this one included. */
  requests = 0;

  constructor() {
    super({ readableHighWaterMark: 64 * 1024, writableHighWaterMark: 64 * 1024 });
  }

  /** Takes a request: its addresses become the socket's. */
  begin(environ: Environ, user: SocketUser): void {
    this.user = user;
    this.remoteAddress = stringVar(environ.REMOTE_ADDR);
    this.remotePort = numberVar(environ.REMOTE_PORT);
    this.remoteFamily = this.remoteAddress?.includes(':') ? 'IPv6' : this.remoteAddress && 'IPv4';
    this.localAddress = stringVar(environ.SERVER_ADDR);
    this.localPort = numberVar(environ.SERVER_PORT);
    this.encrypted = environ['sluice.url_scheme'] === 'https' ? true : undefined;
    this.requests++;
  }

  /** The front end's timeouts govern the connection; there is no timer here to arm. */
  setTimeout(_ms: number, callback?: () => void): this {
    if (callback) this.once('timeout', callback);
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  override _read(): void {}

  /** Interim heads only (see the class comment): taken and dropped. */
  override _write(_chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const user = this.user;
    this.user = null;
    user?.socketDestroyed(error);
    callback(error);
  }
}

function stringVar(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function numberVar(value: unknown): number | undefined {
  return typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : undefined;
}

/** The sockets of one adapted listener that wait for their next request. */
export class SocketPool {
  private readonly idle: GatewaySocket[] = [];

  take(): GatewaySocket {
    return this.idle.pop() ?? new GatewaySocket();
  }

  /** A socket whose request ended cleanly: kept for the next one, or retired. */
  release(socket: GatewaySocket): void {
    socket.user = null;
    if (
      !socket.destroyed &&
      socket.requests < MAX_REQUESTS_PER_SOCKET &&
      this.idle.length < MAX_IDLE_SOCKETS
    ) {
      this.idle.push(socket);
    } else socket.destroy();
  }
}
