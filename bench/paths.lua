-- wrk script for `make bench`: GET every path in a file (one per line, e.g. signed cancel
-- links), each thread its own share, cycling. Sends the headers a TLS-terminating proxy would.
-- Usage: wrk -t2 -c16 -d15s -s bench/paths.lua http://127.0.0.1:PORT -- PATHS_FILE HOST
-- Prints one JSON line: requests, seconds, latency percentiles (ms), errors, unexpected statuses.

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  paths = {}
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  wrk.headers["Host"] = args[2]
  wrk.headers["X-Forwarded-Proto"] = "https"
  wrk.headers["Accept-Language"] = "en"
  step = tonumber(args[3])
  index = id
  unexpected = 0
end

function request()
  local path = paths[(index % #paths) + 1]
  index = index + step
  return wrk.format("GET", path)
end

function response(status, headers, body)
  if status ~= 200 then unexpected = unexpected + 1 end
end

function done(summary, latency, requests)
  local other = 0
  for _, thread in ipairs(threads) do other = other + thread:get("unexpected") end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, ' ..
    '"max_ms": %.2f, "socket_errors": %d, "http_errors": %d, "timeouts": %d, "not_200": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.connect + e.read + e.write, e.status, e.timeout, other))
end
