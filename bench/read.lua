-- bench/read.lua — wrk script of `make bench`.
--
-- With KLUIS_PATHS (a file of GET paths, one per citizen) and KLUIS_TOKEN (a bearer token) set,
-- every request carries the token and goes to a path drawn at random, so reads spread over all
-- citizens of the data set. Without them (the limit server, which ignores its path), wrk's own
-- request is sent. Either way done() prints one machine-readable line for bench/run.sh:
--   WRK requests=N seconds=S rps=R p50_us=.. p90_us=.. p99_us=.. max_us=.. non2xx=.. errors=..

local paths = nil
local token = os.getenv("KLUIS_TOKEN")
local n = 0
local nthreads = 0

function setup(thread)
   nthreads = nthreads + 1
   thread:set("tid", nthreads)
end

function init(args)
   local file = os.getenv("KLUIS_PATHS")
   if file and file ~= "" then
      paths = {}
      for line in io.lines(file) do
         paths[#paths + 1] = line
      end
      n = #paths
   end
   if token and token ~= "" then
      wrk.headers["Authorization"] = "Bearer " .. token
   end
   math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
end

if os.getenv("KLUIS_PATHS") and os.getenv("KLUIS_PATHS") ~= "" then
   function request()
      return wrk.format("GET", paths[math.random(n)])
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "WRK requests=%d seconds=%.3f rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d errors=%d\n",
      summary.requests, secs, summary.requests / secs,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.status, e.connect + e.read + e.write + e.timeout))
end
