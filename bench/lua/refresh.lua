-- POST /api/v1/sessions/refresh. Each refresh token works once, and a spent
-- one presented again revokes its session, so no token may be sent twice.
-- BENCH_REFRESH_TOKENS is a file of refresh tokens from real logins, one
-- session each; thread `id` takes lines id, id+T, id+2T... as its own pool.
-- A token leaves the pool when its request is sent and its successor (from
-- the 200 answer) enters it, so every token is in flight at most once and
-- no two connections ever hold the same session. wrk runs one Lua state per
-- thread, shared by that thread's connections: the pool is per thread,
-- which gives the same guarantee as one per connection as long as a thread
-- has at least as many tokens as connections (bench/run gives it twice as
-- many). An empty pool sends a token that cannot exist: a visible 401.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local pool, head, tail = {}, 1, 0

function init(args)
  local i = 0
  for line in io.lines(os.getenv("BENCH_REFRESH_TOKENS")) do
    if i % nthreads == id then
      tail = tail + 1
      pool[tail] = line
    end
    i = i + 1
  end
end

function request()
  local token = pool[head]
  if token then
    pool[head] = nil
    head = head + 1
  else
    token = "pool-exhausted"
  end
  return wrk.format("POST", "/api/v1/sessions/refresh", json,
    '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
  if status ~= 200 then return end
  local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if token then
    tail = tail + 1
    pool[tail] = token
  else
    bad = bad + 1
  end
end
