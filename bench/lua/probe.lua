-- GET /healthz at a gentle pace (one request per connection every 10 ms):
-- the latency probe that runs beside the login flood without taking the
-- cores the flood is measured on.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.method = "GET"
wrk.path = "/healthz"

function delay()
  return 10
end
