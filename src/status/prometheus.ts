// The status document in Prometheus' text exposition format (version 0.0.4).
import type { Counters } from '../runtime/meter';
import type { DaemonStatus } from './snapshot';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Kind = 'counter' | 'gauge' | 'histogram';

class Exposition {
  private readonly lines: string[] = [];

  family(name: string, kind: Kind, help: string): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${kind}`);
  }

  sample(name: string, value: number, labels: Record<string, string | number> = {}): void {
    const pairs = Object.entries(labels).map(([k, v]) => `${k}="${String(v).replace(/["\\\n]/g, '\\$&')}"`);
    this.lines.push(`${name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${value}`);
  }

  toString(): string {
    return this.lines.join('\n') + '\n';
  }
}

const PER_WORKER: ReadonlyArray<readonly [keyof Counters, string, Kind, string]> = [
  ['accepted', 'sluice_connections_accepted_total', 'counter', 'Connections accepted.'],
  ['active', 'sluice_requests_active', 'gauge', 'Requests in flight.'],
  ['maxActive', 'sluice_requests_max_active', 'gauge', 'Most requests in flight at once.'],
  ['requests', 'sluice_requests_total', 'counter', 'Requests finished.'],
  ['errors', 'sluice_request_errors_total', 'counter', 'Requests ended with a 5xx, cut short or abandoned.'],
  ['overloaded', 'sluice_requests_overloaded_total', 'counter', 'Requests refused for --max-concurrent.'],
  ['timeouts', 'sluice_request_timeouts_total', 'counter', 'Requests ended by a timeout.'],
  ['slow', 'sluice_slow_requests_total', 'counter', 'Requests over --slow-log-ms.'],
  [
    'descriptorPauses',
    'sluice_accept_pauses_total',
    'counter',
    'Times accepting paused, out of descriptors.',
  ],
  [
    'descriptorRefused',
    'sluice_connections_refused_no_descriptors_total',
    'counter',
    'Connections closed, out of descriptors.',
  ],
];

export function renderPrometheus(status: DaemonStatus): string {
  const out = new Exposition();
  out.family('sluice_uptime_seconds', 'gauge', 'Seconds since the daemon started.');
  out.sample('sluice_uptime_seconds', status.uptimeSeconds);
  out.family('sluice_reloads_total', 'counter', 'Reloads (SIGHUP) done.');
  out.sample('sluice_reloads_total', status.reloads);
  out.family('sluice_worker_restarts_total', 'counter', 'Workers replaced after dying.');
  out.sample('sluice_worker_restarts_total', status.restarts);
  out.family('sluice_worker_recycles_total', 'counter', 'Workers replaced for --max-requests or --max-rss.');
  out.sample('sluice_worker_recycles_total', status.recycles);
  out.family('sluice_workers', 'gauge', 'Live worker processes.');
  out.sample('sluice_workers', status.workers.length);
  out.family('sluice_crash_loop_slots', 'gauge', 'Worker slots no longer restarted (crash loop).');
  out.sample('sluice_crash_loop_slots', status.slots.filter((s) => s.crashLoop).length);
  out.family(
    'sluice_listen_queue',
    'gauge',
    'Connections waiting to be accepted (Linux: TCP, and Unix sockets through ss).',
  );
  for (const l of status.listeners) {
    if (l.queued !== null)
      out.sample('sluice_listen_queue', l.queued, { protocol: l.protocol, address: l.address });
  }
  for (const [key, name, kind, help] of PER_WORKER) {
    out.family(name, kind, help);
    for (const w of status.workers)
      out.sample(name, w.counters[key] as number, { worker: w.slot, pid: w.pid });
    // The workers gone, as one series: a sum over every series never goes back after a reload.
    if (kind === 'counter' && status.mode === 'primary')
      out.sample(name, status.exited[key] as number, { worker: 'exited' });
  }
  out.family('sluice_worker_resident_memory_bytes', 'gauge', 'Resident memory of each worker.');
  for (const w of status.workers)
    out.sample('sluice_worker_resident_memory_bytes', w.rssBytes, { worker: w.slot, pid: w.pid });
  const name = 'sluice_request_duration_seconds';
  out.family(name, 'histogram', "Time from a request's arrival to the end of its response, all workers.");
  let cumulative = 0;
  status.latencyBuckets.forEach((bound, i) => {
    cumulative += status.totals.latencyCounts[i];
    out.sample(`${name}_bucket`, cumulative, { le: bound });
  });
  cumulative += status.totals.latencyCounts[status.latencyBuckets.length];
  out.sample(`${name}_bucket`, cumulative, { le: '+Inf' });
  out.sample(`${name}_sum`, status.totals.latencySum);
  out.sample(`${name}_count`, cumulative);
  return out.toString();
}
