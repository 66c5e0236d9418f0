-- bench/read.lua — wrk script of `make bench`.
--
-- With KLUIS_PATHS (a file of GET paths, one per citizen) and KLUIS_TOKEN (a bearer token) set,
-- every request carries the token and goes to a path drawn at random, so reads spread over all
-- citizens of the data set (or, with KLUIS_PATH_FORMAT, see request() below). Without them (the
-- limit server, which ignores its path), wrk's own request is sent. Either way done() prints one
-- machine-readable line for bench/run.sh:
--   WRK requests=N seconds=S rps=R p50_us=.. p90_us=.. p99_us=.. max_us=.. non2xx=.. errors=..

local paths, blob, starts = nil, nil, nil
local token = os.getenv("KLUIS_TOKEN")
local path_format = os.getenv("KLUIS_PATH_FORMAT")
if path_format == "" then path_format = nil end
local n = 0
local nthreads = 0

function setup(thread)
   nthreads = nthreads + 1
   thread:set("tid", nthreads)
end

-- Where line I of BLOB starts (STARTS: 4 big-endian bytes per line).
local function start_of(i)
   local a, b, c, d = string.byte(starts, 4 * i - 3, 4 * i)
   return ((a * 256 + b) * 256 + c) * 256 + d
end

-- The line of BLOB that starts at S, without its newline.
local function line_at(s)
   local nl = string.find(blob, "\n", s, true) or (#blob + 1)
   return string.sub(blob, s, nl - 1)
end

function init(args)
   local file = os.getenv("KLUIS_PATHS")
   if file and file ~= "" and not path_format then
      -- Beyond 65,536 paths: the file as one string and where each line starts packed in a
      -- second one (4 bytes a line), not a table. Every cycle of LuaJIT's collector marks each
      -- string of a table of strings, and walks every slot of a table of numbers: with a million
      -- paths either stalled this thread's 32 connections for 50-130 ms at a time and made the
      -- load generator the p99 of the million-citizen runs (docs/performance.md, "Ninth pass").
      -- Up to 65,536 a table of strings is cheap to mark, and the small sets are read exactly as
      -- in every earlier pass.
      local f = assert(io.open(file, "rb"))
      blob = f:read("*a")
      f:close()
      assert(#blob < 4294967296, "KLUIS_PATHS: at most 4 GB")
      -- packed 1,024 lines at a time, so that init makes no million small strings either
      local chunks, bytes, k, pos = {}, {}, 0, 1
      n = 0
      while pos <= #blob do
         local nl = string.find(blob, "\n", pos, true) or (#blob + 1)
         if nl > pos then
            bytes[k + 1] = math.floor(pos / 16777216)
            bytes[k + 2] = math.floor(pos / 65536) % 256
            bytes[k + 3] = math.floor(pos / 256) % 256
            bytes[k + 4] = pos % 256
            k, n = k + 4, n + 1
            if k == 4096 then
               chunks[#chunks + 1] = string.char(unpack(bytes, 1, k))
               k = 0
            end
         end
         pos = nl + 1
      end
      chunks[#chunks + 1] = string.char(unpack(bytes, 1, k))
      starts = table.concat(chunks)
      if n <= 65536 then
         paths = {}
         for i = 1, n do
            paths[i] = line_at(start_of(i))
         end
         blob, starts = nil, nil
      end
   end
   if token and token ~= "" then
      wrk.headers["Authorization"] = "Bearer " .. token
   end
   math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
end

-- KLUIS_PATH_FORMAT and KLUIS_PATH_COUNT (the scale run): path I is string.format(FORMAT, I), I
-- drawn from 1 to COUNT, instead of a line of KLUIS_PATHS. The scale run compares a 1,000- and a
-- 1,000,000-citizen vault, and wrk shares the two cores with kluisd: picking a line of a million
-- cost it some 6 µs more per request than a line of a thousand (measured against the limit
-- server, which ignores the path), about a third of the difference between the two vaults' rates
-- (docs/performance.md, "Eleventh pass"). Formatted, the path costs the same at any count.
if path_format then
   local count = tonumber(os.getenv("KLUIS_PATH_COUNT"))
   assert(count and count >= 1, "KLUIS_PATH_FORMAT needs KLUIS_PATH_COUNT")
   function request()
      return wrk.format("GET", string.format(path_format, math.random(count)))
   end
elseif os.getenv("KLUIS_PATHS") and os.getenv("KLUIS_PATHS") ~= "" then
   function request()
      local i = math.random(n)
      return wrk.format("GET", paths and paths[i] or line_at(start_of(i)))
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
