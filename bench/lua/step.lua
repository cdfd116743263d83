-- The MFA second step alone: POST /api/v1/sessions/mfa with bodies built
-- before the run (bench/helper.py step-pool), one per line of the file
-- BENCH_STEP_BODIES: {"mfa_token":...,"code":"@CODE@"} (the TOTP code of
-- the current 30 s step is put in when the request is made, from
-- BENCH_TOTP_CODES as in mfa.lua) or {"mfa_token":...,"passkey":{...}}
-- (an assertion signed already). Each challenge works once, so each body
-- is sent once: thread `id` owns lines id, id+T, id+2T...
--
-- wrk's delay() hook comes before every request of a connection: it grants
-- one body of the slice (0 ms), or, once every body is granted, parks the
-- connection (an hour). So request() always has a body, and no request
-- beyond the pool is ever sent. When the last response of its slice is in,
-- the thread stops (wrk.thread:stop()) and writes BENCH_STEP_DONE/<id>:
-- bench/run ends wrk (SIGINT) once every thread has, rather than idling to
-- the nominal duration. The rate is taken over the time spent firing: from
-- the first request sent to the last response, over all threads.
-- Anything but "authenticated" counts as an error.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_usec; } bench_timeval;
  int gettimeofday(bench_timeval *tv, void *tz);
]]
local tv = ffi.new("bench_timeval")
local function now_us()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000000 + tonumber(tv.tv_usec)
end

local bodies, count = {}, 0
local granted, sent, answered = 0, 0, 0
local codes, first_step = {}, nil
-- wrk calls request() once on thread 0 before the run, only to check that
-- it is well formed; that call must not spend a body.
local checking = false
-- Read by done() through thread:get.
pool, first_us, last_us, finished = 0, 0, 0, 0

-- This thread's slice is answered (or empty): a marker for bench/run.
function finish()
  finished = 1
  local marker = io.open(os.getenv("BENCH_STEP_DONE") .. "/" .. id, "w")
  if marker then
    marker:write(string.format("%d %d %d\n", count, first_us, last_us))
    marker:close()
  end
end

function init(args)
  local i = 0
  for line in io.lines(os.getenv("BENCH_STEP_BODIES")) do
    if i % nthreads == id then
      count = count + 1
      bodies[count] = line
    end
    i = i + 1
  end
  pool = count
  local codes_file = os.getenv("BENCH_TOTP_CODES")
  if codes_file and codes_file ~= "" then
    for line in io.lines(codes_file) do
      if first_step == nil then first_step = tonumber(line) else table.insert(codes, line) end
    end
  end
  checking = id == 0
  if count == 0 then finish() end
end

function delay()
  if granted < count then
    granted = granted + 1
    return 0
  end
  return 3600000
end

function request()
  if checking then
    checking = false
    return wrk.format("POST", "/api/v1/sessions/mfa", json, "{}")
  end
  sent = sent + 1
  local body = bodies[sent]
  if body then
    bodies[sent] = nil
  else
    -- Only after a reconnect (a socket error): a visible 401.
    body = '{"mfa_token":"pool-exhausted","code":"000000"}'
  end
  if sent == 1 then first_us = now_us() end
  if first_step and body:find("@CODE@", 1, true) then
    local code = codes[math.floor(os.time() / 30) - first_step + 1] or "000000"
    body = body:gsub("@CODE@", code)
  end
  return wrk.format("POST", "/api/v1/sessions/mfa", json, body)
end

function response(status, headers, body)
  answered = answered + 1
  if status == 200 and not body:find('"authenticated"', 1, true) then
    bad = bad + 1
  end
  if answered == count then
    last_us = now_us()
    finish()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local unexpected, bodies_total, first, last, unfinished = 0, 0, nil, 0, 0
  for _, t in ipairs(threads) do
    unexpected = unexpected + (tonumber(t:get("bad")) or 0)
    bodies_total = bodies_total + (tonumber(t:get("pool")) or 0)
    local f, l = tonumber(t:get("first_us")) or 0, tonumber(t:get("last_us")) or 0
    if f > 0 and (first == nil or f < first) then first = f end
    if l > last then last = l end
    if (tonumber(t:get("finished")) or 0) == 0 then unfinished = unfinished + 1 end
  end
  -- The firing time: first request to last response. A thread that did not
  -- finish its slice (stopped by the duration) leaves wrk's whole run.
  local fired = summary.duration
  if unfinished == 0 and first and last > first then fired = last - first end
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d status_errors=%d unexpected=%d pool=%d wrk_run_us=%d unfinished_threads=%d\n",
    summary.requests, fired, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout + unexpected, e.status, unexpected,
    bodies_total, summary.duration, unfinished))
end
