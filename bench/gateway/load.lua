-- wrk script: POST a chat completion with a key chosen per request from $BENCH_KEYS (a file with
-- one key per line), body from $BENCH_BODY; prints one JSON line of figures at the end.
local keys = {}
for line in io.lines(os.getenv("BENCH_KEYS")) do keys[#keys + 1] = line end
local body = os.getenv("BENCH_BODY")
local counter = 0
local threads = 0

setup = function(thread)
  thread:set("offset", threads * 7919)  -- threads start far apart in the key list
  threads = threads + 1
end

init = function(args)
  counter = offset or 0
end

request = function()
  counter = counter + 1
  local key = keys[(counter % #keys) + 1]
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
  }, body)
end

done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"p50_us":%d,"p99_us":%d,"non2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    non2xx, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
