-- POST /api/v1/sessions: password login of a random seeded user
-- u1..uBENCH_USERS@bench.example (no MFA), all with password BENCH_PASSWORD.
-- Anything but "authenticated" counts as an error.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local users = tonumber(os.getenv("BENCH_USERS"))
local password = os.getenv("BENCH_PASSWORD")

function init(args)
  math.randomseed(os.time() * 31 + id)
end

function request()
  return wrk.format("POST", "/api/v1/sessions", json,
    '{"email":"u' .. math.random(1, users) .. '@bench.example","password":"' .. password .. '"}')
end

function response(status, headers, body)
  if status == 200 and not body:find('"authenticated"', 1, true) then
    bad = bad + 1
  end
end
