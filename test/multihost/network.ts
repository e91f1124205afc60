// The rig's private network: one Linux network namespace per machine (front end, backend hosts, a
// stranger peer), each joined by a veth pair to a bridge inside the front end's namespace, on a
// 10.x.y.0/24 that no interface or route of this machine uses. Nothing is created in the root
// namespace, so traffic stays between the rig's namespaces. Namespaces are named after the PID that
// made them (sluice-<pid>-<machine>); a rig removes those of earlier runs whose PID is dead.
import { execFileSync } from 'node:child_process';
import { pidAlive } from '../helpers/frontends';

/** Machines on the rig's subnet; the front end owns the bridge. */
export type Machine = 'fe' | 'h1' | 'h2' | 'h3' | 'peer';
export const BACKENDS = ['h1', 'h2', 'h3'] as const;
export type Backend = (typeof BACKENDS)[number];

// Host part of each machine's address on the subnet.
const HOST_PART: Record<Machine, number> = { fe: 1, h1: 11, h2: 12, h3: 13, peer: 99 };
const NAME_PREFIX = 'sluice-';
const BRIDGE = 'br0';

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const toInt = (address: string): number =>
  address.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);

/** IPv4 networks (address/length) this machine's root namespace already uses, addresses and routes. */
function usedNetworks(): Array<{ base: number; length: number }> {
  const found: Array<{ base: number; length: number }> = [];
  const text = ip(['-o', '-4', 'addr']) + ip(['-4', 'route']);
  for (const match of text.matchAll(/(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/g)) {
    found.push({ base: toInt(match[1]!), length: match[2] === undefined ? 32 : Number(match[2]) });
  }
  return found;
}

function overlaps(a: { base: number; length: number }, b: { base: number; length: number }): boolean {
  const length = Math.min(a.length, b.length);
  const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  return (a.base & mask) >>> 0 === (b.base & mask) >>> 0;
}

/** A 10.x.y (the first three octets of a /24) that collides with nothing in use here. */
export function freeSubnet(seed = process.pid): string {
  const used = usedNetworks().filter((network) => network.length > 0);
  for (let attempt = 0; attempt < 5000; attempt++) {
    const x = 100 + ((seed + attempt * 7) % 150);
    const y = (seed * 31 + attempt) % 250;
    const candidate = { base: toInt(`10.${x}.${y}.0`), length: 24 };
    if (!used.some((network) => overlaps(network, candidate))) return `10.${x}.${y}`;
  }
  throw new Error('no free 10.x.y.0/24 for the multi-host rig');
}

/** Deletes the rig's namespaces whose maker PID is no longer alive; returns their names. */
export function removeStaleNamespaces(): string[] {
  const stale: string[] = [];
  for (const line of ip(['netns', 'list']).split('\n')) {
    const match = /^(sluice-(\d+)-\S+)/.exec(line);
    if (match && Number(match[2]) !== process.pid && !pidAlive(Number(match[2]))) stale.push(match[1]!);
  }
  for (const name of stale) ip(['netns', 'del', name]);
  return stale;
}

export class Network {
  /** The first three octets of the rig's /24, chosen by create(). */
  subnet = '';
  private readonly made: string[] = [];

  /** Namespace name of a machine. */
  namespace(machine: Machine): string {
    return `${NAME_PREFIX}${process.pid}-${machine}`;
  }

  /** A machine's IPv4 address on the rig's subnet. */
  address(machine: Machine): string {
    return `${this.subnet}.${HOST_PART[machine]}`;
  }

  /** The front end's end of a machine's veth pair (the host end is eth0 in the machine's namespace). */
  private port(machine: Machine): string {
    return `v-${machine}`;
  }

  /** Runs `ip` inside a machine's namespace. */
  ipIn(machine: Machine, args: string[]): string {
    return ip(['-n', this.namespace(machine), ...args]);
  }

  /** Prefix for a command run inside a machine's namespace (ip netns exec execs it: same PID). */
  launcher(machine: Machine): string[] {
    return ['ip', 'netns', 'exec', this.namespace(machine)];
  }

  /** Removes what dead earlier runs left, then builds the namespaces, the bridge and the links. */
  create(): void {
    removeStaleNamespaces();
    this.subnet = freeSubnet();
    const machines = Object.keys(HOST_PART) as Machine[];
    for (const machine of machines) {
      ip(['netns', 'add', this.namespace(machine)]);
      this.made.push(this.namespace(machine));
      this.ipIn(machine, ['link', 'set', 'lo', 'up']);
    }
    this.ipIn('fe', ['link', 'add', BRIDGE, 'type', 'bridge']);
    this.ipIn('fe', ['addr', 'add', `${this.address('fe')}/24`, 'dev', BRIDGE]);
    this.ipIn('fe', ['link', 'set', BRIDGE, 'up']);
    for (const machine of machines.filter((m) => m !== 'fe')) {
      ip([
        'link',
        'add',
        this.port(machine),
        'netns',
        this.namespace('fe'),
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        this.namespace(machine),
      ]);
      this.ipIn('fe', ['link', 'set', this.port(machine), 'master', BRIDGE, 'up']);
      this.ipIn(machine, ['addr', 'add', `${this.address(machine)}/24`, 'dev', 'eth0']);
      this.ipIn(machine, ['link', 'set', 'eth0', 'up']);
    }
  }

  /** Cuts a machine off (its bridge port down: packets to and from it are dropped, no reset). */
  linkDown(machine: Machine): void {
    this.ipIn('fe', ['link', 'set', this.port(machine), 'down']);
  }

  linkUp(machine: Machine): void {
    this.ipIn('fe', ['link', 'set', this.port(machine), 'up']);
  }

  /** Deletes the namespaces (their veth pairs and the bridge go with them). */
  remove(): void {
    for (const name of this.made.splice(0)) {
      try {
        ip(['netns', 'del', name]);
      } catch {
        // already gone
      }
    }
  }
}

/**
 * Whether this machine lets us make network namespaces (root, iproute2, CAP_SYS_ADMIN): tried
 * with a throwaway namespace named like the rig's, so a dead run's leftovers are recognised.
 */
export function canMakeNamespaces(): { ok: true } | { ok: false; reason: string } {
  const name = `${NAME_PREFIX}${process.pid}-probe`;
  try {
    ip(['netns', 'add', name]);
    ip(['netns', 'del', name]);
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: (err as Error).message.split('\n')[0] ?? String(err) };
  }
}
