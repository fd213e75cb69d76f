-- Rate limits, prepended (before prelude.lua) to every account script: reserve.lua checks and counts them in its one
-- round trip (rl_admit, rl_commit); whatever ends a hold (settle, release, lease expiry: prelude's drop_hold) ends the
-- request's share of them (rl_finish): its requests in flight, and its tokens per minute corrected to what it used.
-- The limits are the account hash's `rl:k:<key id>`, `rl:p:<project>` and `rl:a` (JSON, see RateLimitSettings.cs);
-- their state is the hash `{acct:<id>}:rl`, named from KEYS[1] (the account hash), so it carries the account's hash tag
-- and lives on the script's cluster slot. Its fields: `<scope>:<window>` (a GCRA bucket, below), `<scope>:if` (requests
-- in flight), `h:<request id>` (what a request holds of them until it ends). <scope> is `k:<key id>`, `p:<project>` or
-- `a`, with `:m:<model>` for a model's own limits; model names are validated (no spaces, no `=`) by the admin API.
local rl_state = KEYS[1] .. ':rl'

-- Window lengths (ms) of the per-minute and per-day limits.
local rl_period = {rpm = 60000, tpm = 60000, rpd = 86400000}

-- GCRA (the generic cell rate algorithm): a limit of L units per period P admits L at once and then one every P/L
-- (`interval`). Its only state is the theoretical arrival time `tat` (ms, a double): max(tat, now) - now is the
-- part of the window in use, so (max(tat, now) - now) / interval units are used now, and tat - now is when the bucket
-- is full again (OpenAI's reset). Exact across replicas: every check and update happens inside one script.
-- `current` is the bucket's stored tat (nil: never used).
local function rl_bucket(now, field, current, limit, period, cost)
  local interval = period / limit
  local tat = math.max(tonumber(current) or 0, now)
  local after = tat + cost * interval
  -- 1e-6 ms of slack: the divisions are doubles, and a limit must admit exactly its L units.
  return {field = field, limit = limit, interval = interval, tat = after, used = (tat - now) / interval,
    ok = after - now <= period + 1e-6, wait = math.max(0, after - period - now)}
end

-- Formats a double for the state hash: %.17g is exact, tostring() keeps only 14 digits.
local function rl_num(v)
  return string.format('%.17g', v)
end

-- The limits of `configs` ({scope name, scope, JSON or false} of the key, its project and the account) that apply to
-- `model`, in the order they are checked: {name, field, window, limit, for_model} for a window, {name, field, cap}
-- for requests in flight.
local function rl_applicable(model, configs)
  local list = {}
  for _, c in ipairs(configs) do
    local name, scope, json = c[1], c[2], c[3]
    if json and json ~= '' then
      local limits = cjson.decode(json)
      local sets = {{scope, limits, false}}
      if type(limits.models) == 'table' and type(limits.models[model]) == 'table' then
        sets[2] = {scope .. ':m:' .. model, limits.models[model], true}
      end
      for _, s in ipairs(sets) do
        for _, window in ipairs({'rpm', 'rpd', 'tpm'}) do
          local limit = tonumber(s[2][window])
          if limit and limit > 0 then
            list[#list + 1] = {name = name, field = s[1] .. ':' .. window, window = window, limit = limit, for_model = s[3]}
          end
        end
      end
      local cap = tonumber(limits.max_in_flight)
      if cap and cap > 0 then
        list[#list + 1] = {name = name, field = scope .. ':if', cap = cap}
      end
    end
  end
  return list
end

-- Checks every limit that applies to a request, counting nothing; their state is read with one HMGET (a command per
-- limit cost as much Redis time as the rest of the reserve, measured with the proxy benchmark's --rate-limits).
-- Returns {refused = the limit that makes the request wait longest (nil: none), buckets, in_flight,
-- headers = the tightest request and token limits}.
local function rl_admit(now, model, tokens, configs)
  local r = {buckets = {}, in_flight = {}, tokens = tokens}
  local tightest = {}
  local function consider(kind, scope_name, b, window, for_model)
    local left = b.limit - b.used - (kind == 'requests' and 1 or tokens)
    if not b.ok then
      if not r.refused or b.wait > r.refused.wait then
        r.refused = {kind = kind, window = window, scope = scope_name, limit = b.limit, used = math.ceil(b.used - 1e-9),
          requested = kind == 'requests' and 1 or tokens, wait = b.wait, model = for_model}
      end
      left = b.limit - b.used
    end
    local t = tightest[kind]
    if not t or left < t.left then
      tightest[kind] = {limit = b.limit, left = math.max(0, math.floor(left + 1e-9)), reset = math.ceil(b.tat - now)}
      if not b.ok then tightest[kind].reset = math.ceil(b.tat - (kind == 'requests' and 1 or tokens) * b.interval - now) end
    end
  end
  local list = rl_applicable(model, configs)
  local fields = {}
  for i, l in ipairs(list) do
    fields[i] = l.field
  end
  local values = #fields > 0 and redis.call('HMGET', rl_state, unpack(fields)) or {}
  for i, l in ipairs(list) do
    if l.cap then
      local running = tonumber(values[i]) or 0
      if running >= l.cap and not r.refused then
        r.refused = {kind = 'requests', window = 'in_flight', scope = l.name, limit = l.cap, used = running, requested = 1, wait = 1000, model = false}
      end
      r.in_flight[#r.in_flight + 1] = {field = l.field, running = running}
    else
      local kind = l.window == 'tpm' and 'tokens' or 'requests'
      local b = rl_bucket(now, l.field, values[i], l.limit, rl_period[l.window], kind == 'tokens' and tokens or 1)
      b.tokens = kind == 'tokens'
      r.buckets[#r.buckets + 1] = b
      consider(kind, l.name, b, l.window, l.for_model)
    end
  end
  r.headers = {}
  for i, kind in ipairs({'requests', 'tokens'}) do
    local t = tightest[kind]
    r.headers[i * 3 - 2], r.headers[i * 3 - 1], r.headers[i * 3] = t and t.limit or -1, t and t.left or 0, t and math.max(0, t.reset) or 0
  end
  return r
end

-- Counts an admitted request (after its hold is placed), in one HSET: its buckets move on, its in-flight counters go
-- up (from the values rl_admit read in this same script), and `h:<request id>` remembers the tokens it was charged
-- and where, for rl_finish. Returns whether it wrote that record (false: nothing for rl_finish to do).
local function rl_commit(request_id, r)
  local parts = {string.format('%d', r.tokens)}
  local writes = {}
  for _, b in ipairs(r.buckets) do
    writes[#writes + 1], writes[#writes + 2] = b.field, rl_num(b.tat)
    if b.tokens then
      parts[#parts + 1] = b.field .. '=' .. rl_num(b.interval)
    end
  end
  for _, f in ipairs(r.in_flight) do
    writes[#writes + 1], writes[#writes + 2] = f.field, string.format('%d', f.running + 1)
    parts[#parts + 1] = f.field
  end
  if #parts > 1 then
    writes[#writes + 1], writes[#writes + 2] = 'h:' .. request_id, table.concat(parts, ' ')
  end
  if #writes > 0 then
    redis.call('HSET', rl_state, unpack(writes))
  end
  return #parts > 1
end

-- A request ends (once: the record goes): its in-flight counters go down, and when `used` (the tokens it used) is
-- known, its token buckets get back what it was charged beyond that (or are charged what it used beyond it).
-- Without `used` (a lease that ended, see prelude's drop_hold) the admission's estimate stands. One HMGET, one HSET.
local function rl_finish(id, used, now)
  local record = redis.call('HGET', rl_state, 'h:' .. id)
  if not record then
    return
  end
  redis.call('HDEL', rl_state, 'h:' .. id)
  local charged
  local items = {}
  for item in string.gmatch(record, '[^ ]+') do
    if not charged then
      charged = tonumber(item)
    else
      local field, interval = string.match(item, '^(.*)=([^=]+)$')
      if not field then
        items[#items + 1] = {field = item}
      elseif used and used ~= charged then
        items[#items + 1] = {field = field, interval = tonumber(interval)}
      end
    end
  end
  if #items == 0 then
    return
  end
  local fields = {}
  for i, it in ipairs(items) do
    fields[i] = it.field
  end
  local values = redis.call('HMGET', rl_state, unpack(fields))
  local writes = {}
  for i, it in ipairs(items) do
    local v = tonumber(values[i]) or 0
    if it.interval then
      if used > charged then
        v = math.max(v, now)
      end
      writes[#writes + 1], writes[#writes + 2] = it.field, rl_num(v + (used - charged) * it.interval)
    else
      writes[#writes + 1], writes[#writes + 2] = it.field, string.format('%d', math.max(0, v - 1))
    end
  end
  redis.call('HSET', rl_state, unpack(writes))
end
