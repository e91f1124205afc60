// Which TCP peers may connect: --allow and FCGI_WEB_SERVER_ADDRS, as PHP-FPM's listen.allowed_clients.
import net from 'node:net';
import { UsageError } from '../errors';

/** Peers allowed to connect over TCP; Unix-socket peers are governed by the socket file's mode instead. */
export interface PeerFilter {
  allows(address: string | undefined): boolean;
  /** The entries as given, for the log. */
  readonly entries: readonly string[];
}

/**
 * Builds a filter from addresses and CIDR ranges (`127.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`),
 * comma-separated or repeated. FastCGI spec §3.2 defines FCGI_WEB_SERVER_ADDRS the same way.
 */
export function peerFilter(specs: readonly string[]): PeerFilter {
  const list = new net.BlockList();
  const entries = specs
    .flatMap((spec) => spec.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const entry of entries) {
    const [address, prefix] = entry.split('/');
    const family = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : undefined;
    if (family === undefined) {
      throw new UsageError('ERR_USAGE_ALLOW', `not an IP address or range: ${JSON.stringify(entry)}`);
    }
    if (prefix === undefined) {
      list.addAddress(address, family);
      continue;
    }
    const bits = Number(prefix);
    if (!/^\d+$/.test(prefix) || bits > (family === 'ipv4' ? 32 : 128)) {
      throw new UsageError('ERR_USAGE_ALLOW', `bad prefix length in ${JSON.stringify(entry)}`);
    }
    list.addSubnet(address, bits, family);
  }
  return {
    entries,
    allows(peer) {
      if (peer === undefined) return false;
      // A dual-stack listener reports IPv4 peers as IPv4-mapped IPv6 addresses.
      const v4 = peer.startsWith('::ffff:') && net.isIPv4(peer.slice(7)) ? peer.slice(7) : undefined;
      if (v4 !== undefined) return list.check(v4, 'ipv4');
      return list.check(peer, net.isIPv6(peer) ? 'ipv6' : 'ipv4');
    },
  };
}

/**
 * A filter for the status path: like {@link peerFilter}, plus the entry `unix` for front ends on Unix
 * sockets, which have no address to check.
 */
export function statusPeerFilter(specs: readonly string[]): PeerFilter {
  const entries = specs.flatMap((spec) => spec.split(',')).map((s) => s.trim());
  const unix = entries.includes('unix');
  const tcp = peerFilter(entries.filter((e) => e !== 'unix'));
  return {
    entries,
    allows: (peer) => (peer === undefined ? unix : tcp.allows(peer)),
  };
}
