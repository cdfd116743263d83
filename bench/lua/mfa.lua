-- Full MFA login: POST /api/v1/sessions (password) answers mfa_required
-- with an mfa_token, then POST /api/v1/sessions/mfa with a TOTP code.
-- Users m1..mBENCH_MFA_USERS@bench.example share one TOTP secret (sealed
-- per credential by bench/helper.py), so one code per 30 s step serves them
-- all; BENCH_TOTP_CODES is a file: the first line a step number S, then the
-- codes of steps S, S+1, ... (computed by bench/helper.py, checked against
-- RFC 6238's vectors there). A code works once per user and step, so each
-- user logs in at most once per run: thread `id` walks users id+1,
-- id+1+T, ... and counts a wrap-around (a reused user) as an error.
-- Challenges are per thread: a response's mfa_token is queued, and the next
-- request of any connection of that thread answers it first.
-- One login = 2 requests; bench/run reports logins/s = requests/s / 2.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local users = tonumber(os.getenv("BENCH_MFA_USERS"))
local password = os.getenv("BENCH_PASSWORD")
local codes, first_step = {}, nil
local pending, head, tail = {}, 1, 0
local cursor

function init(args)
  for line in io.lines(os.getenv("BENCH_TOTP_CODES")) do
    if first_step == nil then first_step = tonumber(line) else table.insert(codes, line) end
  end
  cursor = id + 1 - nthreads
end

function request()
  local challenge = pending[head]
  if challenge then
    pending[head] = nil
    head = head + 1
    local code = codes[math.floor(os.time() / 30) - first_step + 1] or "000000"
    return wrk.format("POST", "/api/v1/sessions/mfa", json,
      '{"mfa_token":"' .. challenge .. '","code":"' .. code .. '"}')
  end
  cursor = cursor + nthreads
  if cursor > users then
    cursor = id + 1
    bad = bad + 1
  end
  return wrk.format("POST", "/api/v1/sessions", json,
    '{"email":"m' .. cursor .. '@bench.example","password":"' .. password .. '"}')
end

function response(status, headers, body)
  if status ~= 200 then return end
  local challenge = body:match('"mfa_token"%s*:%s*"([^"]+)"')
  if challenge then
    tail = tail + 1
    pending[tail] = challenge
  elseif not body:find('"authenticated"', 1, true) then
    bad = bad + 1
  end
end
