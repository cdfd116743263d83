-- Shared by every bench script (loaded with dofile). Environment:
--   BENCH_THREADS  wrk's -t (each thread learns its index `id` in setup)
-- Each script may count responses that were 2xx but not what the route
-- should answer in the per-thread global `bad`; done() adds them to errors.
-- done() prints one machine-readable line that bench/run parses.

threads = {}
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

bad = 0
nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
json = { ["content-type"] = "application/json" }

function done(summary, latency, requests)
  local e = summary.errors
  local unexpected = 0
  for _, t in ipairs(threads) do
    unexpected = unexpected + (tonumber(t:get("bad")) or 0)
  end
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d status_errors=%d unexpected=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout + unexpected, e.status, unexpected))
end
