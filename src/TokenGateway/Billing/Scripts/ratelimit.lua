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

-- Formats a double for the state hash: %.17g is exact, tostring() keeps only 14 digits.
local function rl_num(v)
  return string.format('%.17g', v)
end

local rl_windows = {'rpm', 'rpd', 'tpm'}
local rl_none = {n = 0, headers = {-1, 0, 0, -1, 0, 0}}

-- Checks every limit that applies to a request, counting nothing. `configs`: {scope name, scope, JSON or false} of the
-- key, its project and the account; a set's limits apply to every model, its `models[model]` ones to that model too.
-- Their state is read with one HMGET (a command per limit cost as much Redis time as the rest of the reserve).
-- Written for Redis's Lua, where a table or a closure per limit cost more than the limit's arithmetic (docs/benchmarks/
-- proxy.md, issue 16): the limits are parallel arrays, in the order they are checked (per config: the set's rpm, rpd,
-- tpm, then the model's, then requests in flight), and the outcome is plain locals.
-- Returns {n, fields, windows, values, tats (after this request), intervals, tokens, refused = the limit that
-- makes the request wait longest (nil: none), headers = the tightest request and token limits}; rl_none without limits.
local function rl_admit(now, model, tokens, configs)
  local names, fields, windows, limits, for_models = {}, {}, {}, {}, {}
  local n = 0
  for c = 1, #configs do
    local config = configs[c]
    local json = config[3]
    if json and json ~= '' then
      local decoded = cjson.decode(json)
      local set, scope, for_model = decoded, config[2], false
      for pass = 1, 2 do
        if pass == 2 then
          set = type(decoded.models) == 'table' and decoded.models[model]
          if type(set) ~= 'table' then
            break
          end
          scope, for_model = config[2] .. ':m:' .. model, true
        end
        for w = 1, 3 do
          local limit = tonumber(set[rl_windows[w]])
          if limit and limit > 0 then
            n = n + 1
            names[n], fields[n], windows[n], limits[n], for_models[n] = config[1], scope .. ':' .. rl_windows[w], rl_windows[w], limit, for_model
          end
        end
      end
      local cap = tonumber(decoded.max_in_flight)
      if cap and cap > 0 then
        n = n + 1
        names[n], fields[n], windows[n], limits[n], for_models[n] = config[1], config[2] .. ':if', 'in_flight', cap, false
      end
    end
  end
  if n == 0 then
    return rl_none
  end
  local values = redis.call('HMGET', rl_state, unpack(fields))
  local tats, intervals = {}, {}
  local refused, refused_wait
  -- The tightest limit of each kind: limit, what is left after this request, ms until the bucket is full again.
  local rq_limit, rq_left, rq_reset, tk_limit, tk_left, tk_reset
  for i = 1, n do
    local limit, window = limits[i], windows[i]
    if window == 'in_flight' then
      local running = tonumber(values[i]) or 0
      values[i] = running
      if running >= limit and not refused then
        refused, refused_wait = {window = 'in_flight', scope = names[i], limit = limit, used = running, requested = 1, model = false}, 1000
      end
    else
      -- GCRA (see above): tat = max(stored tat, now); this request moves it by cost x interval.
      local is_tokens = window == 'tpm'
      local cost = is_tokens and tokens or 1
      local period = rl_period[window]
      local interval = period / limit
      local tat = math.max(tonumber(values[i]) or 0, now)
      local after = tat + cost * interval
      local used = (tat - now) / interval
      local ok = after - now <= period + 1e-6
      local left, reset = limit - used - cost, after - now
      if not ok then
        local wait = math.max(0, after - period - now)
        if not refused or wait > refused_wait then
          refused, refused_wait = {window = window, scope = names[i], limit = limit, used = math.ceil(used - 1e-9), requested = cost,
            model = for_models[i]}, wait
        end
        left, reset = limit - used, tat - now
      end
      tats[i], intervals[i] = after, interval
      -- The stored `left` is what the header shows (whole units, not below 0), and the next limit is compared with it.
      if is_tokens then
        if not tk_limit or left < tk_left then
          tk_limit, tk_left, tk_reset = limit, math.max(0, math.floor(left + 1e-9)), reset
        end
      elseif not rq_limit or left < rq_left then
        rq_limit, rq_left, rq_reset = limit, math.max(0, math.floor(left + 1e-9)), reset
      end
    end
  end
  if refused then
    refused.wait = refused_wait
  end
  local headers = {-1, 0, 0, -1, 0, 0}
  if rq_limit then
    headers[1], headers[2], headers[3] = rq_limit, rq_left, math.max(0, math.ceil(rq_reset))
  end
  if tk_limit then
    headers[4], headers[5], headers[6] = tk_limit, tk_left, math.max(0, math.ceil(tk_reset))
  end
  return {n = n, fields = fields, windows = windows, values = values, tats = tats, intervals = intervals, tokens = tokens,
    refused = refused, headers = headers}
end

-- Counts an admitted request (after its hold is placed), in one HSET: its buckets move on, its in-flight counters go
-- up (from the values rl_admit read in this same script), and `h:<request id>` remembers the tokens it was charged
-- and where, for rl_finish. Returns whether it wrote that record (false: nothing for rl_finish to do).
local function rl_commit(request_id, r)
  if r.n == 0 then
    return false
  end
  local parts = {string.format('%d', r.tokens)}
  local writes = {}
  for i = 1, r.n do
    local field, window = r.fields[i], r.windows[i]
    if window == 'in_flight' then
      writes[#writes + 1], writes[#writes + 2] = field, string.format('%d', r.values[i] + 1)
      parts[#parts + 1] = field
    else
      writes[#writes + 1], writes[#writes + 2] = field, rl_num(r.tats[i])
      if window == 'tpm' then
        parts[#parts + 1] = field .. '=' .. rl_num(r.intervals[i])
      end
    end
  end
  if #parts > 1 then
    writes[#writes + 1], writes[#writes + 2] = 'h:' .. request_id, table.concat(parts, ' ')
  end
  redis.call('HSET', rl_state, unpack(writes))
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
