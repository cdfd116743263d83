-- GET /api/v1/me with the access token of a real login (BENCH_ACCESS_TOKEN).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.method = "GET"
wrk.path = "/api/v1/me"
wrk.headers["authorization"] = "Bearer " .. os.getenv("BENCH_ACCESS_TOKEN")
