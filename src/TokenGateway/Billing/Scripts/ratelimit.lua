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
local function rl_bucket(now, field, limit, period, cost)
  local interval = period / limit
  local tat = math.max(tonumber(redis.call('HGET', rl_state, field)) or 0, now)
  local after = tat + cost * interval
  -- 1e-6 ms of slack: the divisions are doubles, and a limit must admit exactly its L units.
  return {field = field, limit = limit, interval = interval, tat = after, used = (tat - now) / interval,
    ok = after - now <= period + 1e-6, wait = math.max(0, after - period - now)}
end

-- Formats a double for the state hash: %.17g is exact, tostring() keeps only 14 digits.
local function rl_num(v)
  return string.format('%.17g', v)
end

-- Checks every limit that applies to a request, counting nothing. `configs` are {scope name, scope, JSON or false} of
-- the key, its project and the account. Returns {refused = the limit that makes the request wait longest (nil: none),
-- buckets, in_flight fields, headers = the tightest request and token limits}.
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
            local kind = window == 'tpm' and 'tokens' or 'requests'
            local b = rl_bucket(now, s[1] .. ':' .. window, limit, rl_period[window], kind == 'tokens' and tokens or 1)
            b.tokens = kind == 'tokens'
            r.buckets[#r.buckets + 1] = b
            consider(kind, name, b, window, s[3])
          end
        end
      end
      local cap = tonumber(limits.max_in_flight)
      if cap and cap > 0 then
        local field = scope .. ':if'
        local running = tonumber(redis.call('HGET', rl_state, field)) or 0
        if running >= cap and not r.refused then
          r.refused = {kind = 'requests', window = 'in_flight', scope = name, limit = cap, used = running, requested = 1, wait = 1000, model = false}
        end
        r.in_flight[#r.in_flight + 1] = field
      end
    end
  end
  r.headers = {}
  for i, kind in ipairs({'requests', 'tokens'}) do
    local t = tightest[kind]
    r.headers[i * 3 - 2], r.headers[i * 3 - 1], r.headers[i * 3] = t and t.limit or -1, t and t.left or 0, t and math.max(0, t.reset) or 0
  end
  return r
end

-- Counts an admitted request (after its hold is placed): its buckets move on, its in-flight counters go up, and
-- `h:<request id>` remembers the tokens it was charged and where, for rl_finish.
local function rl_commit(request_id, r)
  local parts = {string.format('%d', r.tokens)}
  for _, b in ipairs(r.buckets) do
    redis.call('HSET', rl_state, b.field, rl_num(b.tat))
    if b.tokens then
      parts[#parts + 1] = b.field .. '=' .. rl_num(b.interval)
    end
  end
  for _, field in ipairs(r.in_flight) do
    redis.call('HINCRBY', rl_state, field, 1)
    parts[#parts + 1] = field
  end
  if #parts > 1 then
    redis.call('HSET', rl_state, 'h:' .. request_id, table.concat(parts, ' '))
  end
end

-- A request ends (once: the record goes): its in-flight counters go down, and when `used` (the tokens it used) is
-- known, its token buckets get back what it was charged beyond that (or are charged what it used beyond it).
-- Without `used` (a lease that ended, see prelude's drop_hold) the admission's estimate stands.
local function rl_finish(id, used, now)
  local record = redis.call('HGET', rl_state, 'h:' .. id)
  if not record then
    return
  end
  redis.call('HDEL', rl_state, 'h:' .. id)
  local charged
  for item in string.gmatch(record, '[^ ]+') do
    if not charged then
      charged = tonumber(item)
    else
      local field, interval = string.match(item, '^(.*)=([^=]+)$')
      if not field then
        if redis.call('HINCRBY', rl_state, item, -1) < 0 then
          redis.call('HSET', rl_state, item, 0)
        end
      elseif used and used ~= charged then
        local tat = tonumber(redis.call('HGET', rl_state, field)) or 0
        if used > charged then
          tat = math.max(tat, now)
        end
        redis.call('HSET', rl_state, field, rl_num(tat + (used - charged) * tonumber(interval)))
      end
    end
  end
end
