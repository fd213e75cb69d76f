-- wrk script of the proxy benchmark: POST /v1/chat/completions with a JSON body and a bearer key, and
-- count the answers that are 200 and complete (a non-streaming body with its object type, a stream
-- that reached "data: [DONE]"). wrk's own counters only know the status and socket errors.
--
--   wrk -s chat.lua URL -- BODY MARKER KEY ["Header: value" ...]
--
-- BODY is the JSON itself, or @FILE to read it from a file (a 64 KB body is too long for one command-line argument).
--
-- NOTE: defining response() makes wrk hand every body to Lua; it is done for every target alike.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.path = "/v1/chat/completions"
  if args[1]:sub(1, 1) == "@" then
    local f = assert(io.open(args[1]:sub(2), "rb"))
    wrk.body = f:read("*a")
    f:close()
  else
    wrk.body = args[1]
  end
  marker = args[2]
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[3]
  for i = 4, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    wrk.headers[name] = value
  end
  ok, non200, incomplete = 0, 0, 0
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  elseif body:find(marker, 1, true) then
    ok = ok + 1
  else
    incomplete = incomplete + 1
  end
end

function done(summary, latency, requests)
  local ok, non200, incomplete = 0, 0, 0
  for _, t in ipairs(threads) do
    ok = ok + t:get("ok")
    non200 = non200 + t:get("non200")
    incomplete = incomplete + t:get("incomplete")
  end
  local e = summary.errors
  io.write(string.format(
    'TGBENCH {"requests":%d,"duration_us":%d,"ok":%d,"non200":%d,"incomplete":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, ok, non200, incomplete, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
