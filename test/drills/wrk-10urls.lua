-- A mix of 10 URLs per request for the peers rig (WRK_LUA=test/drills/wrk-10urls.lua):
-- eight of the 100,000 rated sites (site1..site100000.example, as the rig's schema.sql loads
-- them), two never seen, priority 1. Ends with the rig's RESULT line.
local prefix = "/"
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  prefix = args[1] or "/"
  math.randomseed(os.time() * 100 + (id or 0))
end

function request()
  local parts = {}
  for i = 1, 8 do
    parts[#parts + 1] = string.format("url=http://www.site%d.example/page%d", math.random(1, 100000), i)
  end
  for i = 1, 2 do
    parts[#parts + 1] = string.format("url=new%d%d.example", math.random(1, 1000000000), math.random(1, 1000000000))
  end
  return wrk.format("GET", prefix .. "?" .. table.concat(parts, "&") .. "&priority=1")
end

function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  io.write(string.format("RESULT %.0f %.2f %.2f %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors))
end
