-- wrk script for the e2e benchmark (bench/lib/wrk.mjs).
--
-- With BENCH_BODY_FILE set, every request is a POST of that file's bytes (read once per thread at
-- start; wrk formats the request once and adds Content-Length). Without it, wrk's default GET.
--
-- After the run, it prints one machine-readable line
--   @@WRK-JSON {...}
-- with the raw counters and latency percentiles (microseconds), next to wrk's own --latency text.
-- No request()/response() functions are defined, so wrk keeps its fast path (no per-request Lua).
local body_file = os.getenv("BENCH_BODY_FILE")
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  wrk.headers["Content-Type"] = "application/octet-stream"
  f:close()
end

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
