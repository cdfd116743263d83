-- GET /healthz: the baseline every ratio is taken against.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.method = "GET"
wrk.path = "/healthz"
