// Listener addresses as users write them: unix:/path, /path, host:port, :port, [v6]:port, fd:N.
import { UsageError } from '../errors';

export type ListenAddress =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  /**
   * A listening socket this process inherited: from systemd (socket activation, with its
   * LISTEN_FDNAMES name), from a web server that spawned it (fd 0, FCGI_LISTENSOCK_FILENO), or
   * named by `fd:N`.
   */
  | { readonly kind: 'fd'; readonly fd: number; readonly name?: string };

/** Parses an address flag; a bare `:port` binds loopback only, so nothing is exposed by accident. */
export function parseAddress(spec: string): ListenAddress {
  if (spec.startsWith('fd:')) return fdAddress(spec);
  if (spec.startsWith('unix:')) return unixAddress(spec.slice(5), spec);
  if (spec.startsWith('/') || spec.startsWith('./')) return unixAddress(spec, spec);
  const colon = spec.lastIndexOf(':');
  if (colon === -1) throw new UsageError('ERR_USAGE_ADDRESS', `address ${JSON.stringify(spec)} has no port`);
  let host = spec.slice(0, colon);
  const portText = spec.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new UsageError('ERR_USAGE_ADDRESS', `bad port in address ${JSON.stringify(spec)}`);
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  else if (host.includes(':')) {
    throw new UsageError('ERR_USAGE_ADDRESS', `write IPv6 addresses in brackets: ${JSON.stringify(spec)}`);
  }
  return { kind: 'tcp', host: host === '' ? '127.0.0.1' : host, port: Number(portText) };
}

/** `fd:N`: a descriptor already listening, passed by whoever started this process. */
function fdAddress(spec: string): ListenAddress {
  const digits = spec.slice(3);
  if (!/^\d{1,9}$/.test(digits)) {
    throw new UsageError('ERR_USAGE_ADDRESS', `bad descriptor number in ${JSON.stringify(spec)}`);
  }
  return { kind: 'fd', fd: Number(digits) };
}

function unixAddress(path: string, spec: string): ListenAddress {
  if (path === '') throw new UsageError('ERR_USAGE_ADDRESS', `empty socket path in ${JSON.stringify(spec)}`);
  return { kind: 'unix', path };
}

/** The address as logged and printed: `unix:/path` or `host:port` (IPv6 in brackets). */
export function formatAddress(address: ListenAddress): string {
  if (address.kind === 'unix') return 'unix:' + address.path;
  if (address.kind === 'fd') return `fd:${address.fd}`;
  return (address.host.includes(':') ? `[${address.host}]` : address.host) + ':' + address.port;
}

/** The longest Unix socket path bind() takes: sun_path's 108 bytes, less the terminating NUL. */
const SUN_PATH_MAX = 107;

/**
 * The name a Unix socket for `socketPath` is bound under by process `pid`, before it listens and is
 * renamed into place. The kernel keeps that name: `ss -xl` and /proc/net/unix show it, not the path.
 * `<path>.<pid>` where it fits in sun_path; else a short name in the same directory.
 */
export function socketBindingName(socketPath: string, pid: number): string {
  const beside = `${socketPath}.${pid}`;
  if (Buffer.byteLength(beside) <= SUN_PATH_MAX) return beside;
  const slash = socketPath.lastIndexOf('/');
  let hash = 0;
  for (const byte of Buffer.from(socketPath.slice(slash + 1))) hash = (hash * 31 + byte) >>> 0;
  return `${socketPath.slice(0, slash + 1)}.${pid}.${hash.toString(36)}`;
}
