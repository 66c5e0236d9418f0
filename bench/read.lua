-- bench/read.lua — wrk script of `make bench`.
--
-- With KLUIS_PATHS (a file of GET paths, one per citizen) and KLUIS_TOKEN (a bearer token) set,
-- every request carries the token and goes to a path drawn at random, so reads spread over all
-- citizens of the data set. Without them (the limit server, which ignores its path), wrk's own
-- request is sent. Either way done() prints one machine-readable line for bench/run.sh:
--   WRK requests=N seconds=S rps=R p50_us=.. p90_us=.. p99_us=.. max_us=.. non2xx=.. errors=..

local paths, blob, starts, width = nil, nil, nil, nil
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
      -- Beyond 65,536 paths: one string (and a table of numbers), not a table of strings: every cycle of
      -- LuaJIT's collector marks each string of such a table, which stalled this thread's 32
      -- connections for 50-200 ms at a time and made the load generator the p99 of the
      -- million-citizen runs (docs/performance.md, "Ninth pass").
      local f = assert(io.open(file, "rb"))
      blob = f:read("*a")
      f:close()
      -- Lines of one length (the bench's own data sets) need no table at all: line i starts at
      -- (i - 1) * width + 1. Otherwise a table of numbers holds where each line starts.
      starts = {}
      local pos, same = 1, nil
      while pos <= #blob do
         local nl = string.find(blob, "\n", pos, true) or (#blob + 1)
         if nl > pos then
            starts[#starts + 1] = pos
            if same == nil then
               same = nl - pos
            elseif same ~= nl - pos then
               same = false
            end
         end
         pos = nl + 1
      end
      n = #starts
      if n <= 65536 then
         -- A small set is cheap to mark, and a ready string per path spares each request a copy
         -- (2-5 % of throughput at 1,000 citizens on two cores).
         paths = {}
         for i = 1, n do
            local nl = string.find(blob, "\n", starts[i], true) or (#blob + 1)
            paths[i] = string.sub(blob, starts[i], nl - 1)
         end
         blob, starts = nil, nil
      elseif same and #blob >= n * (same + 1) - 1 and starts[n] == (n - 1) * (same + 1) + 1 then
         width, starts = same, nil
      end
   end
   if token and token ~= "" then
      wrk.headers["Authorization"] = "Bearer " .. token
   end
   math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
end

if os.getenv("KLUIS_PATHS") and os.getenv("KLUIS_PATHS") ~= "" then
   function request()
      local i = math.random(n)
      if paths then
         return wrk.format("GET", paths[i])
      end
      if width then
         local s = (i - 1) * (width + 1) + 1
         return wrk.format("GET", string.sub(blob, s, s + width - 1))
      end
      local s = starts[i]
      local nl = string.find(blob, "\n", s, true) or (#blob + 1)
      return wrk.format("GET", string.sub(blob, s, nl - 1))
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
