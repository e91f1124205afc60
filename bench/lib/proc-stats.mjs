// What the benchmarks read from /proc: memory, open files and CPU time of processes and process
// groups, the machine's CPU time (for the noise check), and the CPU of reaped children (wrk's exact share).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** Open file descriptors of `pids` (entries of /proc/PID/fd; processes that are gone count 0). */
export function fdCountOf(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      total += fs.readdirSync(`/proc/${pid}/fd`).length;
    } catch {
      // gone, or not ours to read
    }
  }
  return total;
}

/** Fields of /proc/PID/status in kB (VmRSS, VmHWM), or undefined once the process is gone. */
export function memoryOf(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/**
 * Sum of VmRSS over `pids` in kB (processes that are gone count 0). For a pool of forked workers
 * (PHP-FPM, uWSGI) pages shared with the master are counted once per process: an upper bound.
 */
export function rssOfKb(pids) {
  let total = 0;
  for (const pid of pids) total += memoryOf(pid)?.rssKb || 0;
  return total;
}

function statFields(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 on (proc(5))
}

/** utime + stime of a process in seconds (undefined once it is gone). */
export function cpuSecondsOf(pid) {
  try {
    const fields = statFields(pid);
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // fields 14 and 15 of proc(5)
  } catch {
    return undefined;
  }
}

/**
 * Minor page faults of a process so far (undefined once it is gone): pages the kernel had to map in,
 * mostly memory the C allocator gave back to the kernel and took again. Where a body streams through
 * fresh buffers this count, not the server's own code, sets much of its CPU (bench/README.md).
 */
export function minorFaultsOf(pid) {
  try {
    return Number(statFields(pid)[7]); // field 10 of proc(5)
  } catch {
    return undefined;
  }
}

/** `read(pid)` summed over `pids` (processes that are gone count 0). */
function sumOver(pids, read) {
  let total = 0;
  for (const pid of pids) total += read(pid) ?? 0;
  return total;
}

/** utime + stime summed over `pids`. */
export const cpuSecondsOfAll = (pids) => sumOver(pids, cpuSecondsOf);

/** Minor page faults summed over `pids`. */
export const minorFaultsOfAll = (pids) => sumOver(pids, minorFaultsOf);

/** Machine-wide CPU time from /proc/stat's "cpu" line, in seconds: busy (not idle/iowait), steal, total. */
export function systemCpu() {
  const fields = /^cpu\s+(.*)$/m
    .exec(fs.readFileSync('/proc/stat', 'utf8'))[1]
    .trim()
    .split(/\s+/)
    .map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already counted in user/nice)
  const [user, nice, system, idle, iowait, irq, softirq, steal = 0] = fields;
  // Interrupt time counts as busy: loopback traffic is processed in softirq context, which /proc/stat
  // books as softirq while the process it ran in is charged for it too.
  const busy = user + nice + system + irq + softirq;
  const total = busy + idle + iowait + steal;
  return { busy: busy / CLK_TCK, steal: steal / CLK_TCK, total: total / CLK_TCK };
}

/** Percentage of the machine's CPU busy between two systemCpu() readings. */
export const busyPct = (before, after) => ((after.busy - before.busy) / (after.total - before.total)) * 100;

/** CPU seconds of this process's children that have exited and been reaped (cutime + cstime). */
export function reapedChildrenCpuSeconds() {
  const fields = statFields('self');
  return (Number(fields[13]) + Number(fields[14])) / CLK_TCK; // fields 16 and 17 of proc(5)
}

function procStat(pid) {
  try {
    const fields = statFields(pid);
    return { state: fields[0], ppid: Number(fields[1]), pgrp: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

/** Live (not zombie) PIDs whose stat matches `predicate({ state, ppid, pgrp })`. */
export function listPids(predicate) {
  const pids = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const st = procStat(Number(entry));
    if (st && st.state !== 'Z' && st.state !== 'X' && predicate(st)) pids.push(Number(entry));
  }
  return pids;
}

/** Every live process of a process group: a server and the workers it forked. */
export const groupMembers = (pgid) => listPids((st) => st.pgrp === pgid);
