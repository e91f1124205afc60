-- wrk script for the e2e benchmark (bench/lib/wrk.mjs).
--
-- With BENCH_BODY_FILE set, every request is a POST of that file's bytes (read once per thread at
-- start; wrk formats the request once and adds Content-Length), with the Content-Type of
-- BENCH_CONTENT_TYPE (default application/octet-stream). Without it, wrk's default GET.
--
-- After the run, it prints one machine-readable line
--   @@WRK-JSON {...}
-- with the raw counters and latency percentiles (microseconds), next to wrk's own --latency text.
-- No response() function is defined, and request() only in the mixed mode below, so wrk otherwise
-- keeps its fast path (no per-request Lua).
--
-- With BENCH_MIX set (the soak benchmark), each connection cycles through several requests instead:
-- entries separated by ";", each "METHOD PATH" or "METHOD PATH BODYFILE" (a POST of that file).
local body_file = os.getenv("BENCH_BODY_FILE")
local content_type = os.getenv("BENCH_CONTENT_TYPE")
local mix = os.getenv("BENCH_MIX")
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  if content_type and content_type ~= "" then
    wrk.headers["Content-Type"] = content_type
  else
    wrk.headers["Content-Type"] = "application/octet-stream"
  end
  f:close()
end

if mix and mix ~= "" then
  local requests = {}
  local next_index = 0

  -- Formatted once per thread in init(), when wrk has set the Host header wrk.format adds.
  init = function(args)
    for entry in string.gmatch(mix, "[^;]+") do
      local method, path, file = string.match(entry, "^%s*(%S+)%s+(%S+)%s*(%S*)%s*$")
      assert(method, "BENCH_MIX: bad entry " .. entry)
      local headers = {}
      local body = nil
      if file ~= "" then
        local f = assert(io.open(file, "rb"))
        body = f:read("*a")
        f:close()
        headers["Content-Type"] = "application/octet-stream"
      end
      requests[#requests + 1] = wrk.format(method, path, headers, body)
    end
  end

  request = function()
    next_index = next_index % #requests + 1
    return requests[next_index]
  end
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
