-- wrk script for bench/e2e.mjs: after the run, print one machine-readable line
--   @@WRK-JSON {...}
-- with the raw counters and latency percentiles (microseconds), next to wrk's own --latency text.
-- Only done() is defined, so wrk keeps its fast path (no per-request Lua calls).
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '@@WRK-JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p99_9":%d},' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9),
    e.connect, e.read, e.write, e.status, e.timeout))
end
