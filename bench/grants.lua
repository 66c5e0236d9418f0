-- bench/grants.lua — wrk script of the grant-creation benchmark (bench/run.sh micro).
--
-- KLUIS_GRANTS names a file of pre-signed grant requests made by `bench_gen grants`, one per line:
-- path<TAB>bearer token<TAB>JSON body. Each wrk thread sends its own share of the lines once, in
-- order (statement ids are never reused: a line sent twice would be 409 replay). done() prints the
-- same WRK line as bench/read.lua; created = requests - non2xx.

local reqs = {}
local i = 0
local nthreads = 0

function setup(thread)
   nthreads = nthreads + 1
   thread:set("tid", nthreads - 1)
end

function init(args)
   local k = 0
   local tn = tonumber(os.getenv("KLUIS_WRK_THREADS") or "1")
   for line in io.lines(os.getenv("KLUIS_GRANTS")) do
      if k % tn == tid then
         local path, tok, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
         reqs[#reqs + 1] = wrk.format("POST", path,
            { ["Authorization"] = "Bearer " .. tok, ["Content-Type"] = "application/json" }, body)
      end
      k = k + 1
   end
end

function request()
   i = i + 1
   if i > #reqs then i = 1 end
   return reqs[i]
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
