// What a daemon process holds, read from /proc: open descriptors and resident memory. Both move for
// reasons of their own (the daemon reads /proc/self/fd every second, the collector runs when it
// likes), so a baseline is the lowest of a few samples and "back to it" is polled for.
import * as fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const MiB = 1024 * 1024;

export function openDescriptors(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** What each open descriptor is (`socket:[123]`, a path, `anon_inode:[eventfd]`), by number. */
export function describeDescriptors(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      out[fd] = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      // closed while listed
    }
  }
  return out;
}

/** Resident set size in bytes (VmRSS). */
export function residentBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
  if (match === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** The fewest descriptors open over a few samples: a directory being listed is not a connection. */
export async function settledDescriptors(pid: number): Promise<number> {
  let fewest = openDescriptors(pid);
  for (let i = 0; i < 5; i++) {
    await sleep(40);
    fewest = Math.min(fewest, openDescriptors(pid));
  }
  return fewest;
}

/** Polls `read()` until it is at most `ceiling`, or `timeoutMs` passed; resolves with the last reading. */
async function pollDownTo(
  read: () => number,
  ceiling: number,
  timeoutMs: number,
  everyMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let value = read();
  while (value > ceiling && Date.now() < deadline) {
    await sleep(everyMs);
    value = read();
  }
  return value;
}

/** Polls until at most `baseline` descriptors are open; resolves with the last count. */
export function descriptorsBackTo(pid: number, baseline: number, timeoutMs = 10_000): Promise<number> {
  return pollDownTo(() => openDescriptors(pid), baseline, timeoutMs, 100);
}

/** Polls until resident memory is at most `ceilingBytes`; resolves with the last reading. */
export function residentBackTo(pid: number, ceilingBytes: number, timeoutMs = 30_000): Promise<number> {
  return pollDownTo(() => residentBytes(pid), ceilingBytes, timeoutMs, 250);
}

export function mebibytes(bytes: number): number {
  return Math.round((bytes / MiB) * 10) / 10;
}

export { MiB };
