-- Rate limits, prepended (before prelude.lua) to every account script: reserve.lua checks and counts them in its one
-- round trip (rl_admit, rl_commit); whatever ends a hold (settle, release, lease expiry: prelude's drop_hold) ends the
-- request's share of them (rl_finish): its requests in flight, and its tokens per minute corrected to what it used.
-- The limits are the account hash's `rl:k:<key id>`, `rl:p:<project>` and `rl:a` (see rl_parse), read by the reserve's
-- HMGET; their state is the hash `{acct:<id>}:rl`, named from KEYS[1] (the account hash), so it carries the account's
-- hash tag and lives on the script's cluster slot. Its fields: `<scope>:<window>` (a GCRA bucket, below),
-- `<scope>:tpm:b` (tokens given back to a token bucket by requests that used less than they were charged, see
-- rl_finish) and `<scope>:if` (requests in flight), where <scope> is `k:<key id>`, `p:<project>` or `a`, with
-- `:m:<model>` for a model's own limits. What a request holds of them until it ends is its record, kept in its hold
-- (prelude's hold_value). Key ids, project ids and model names (validated by the admin API) have no spaces, `=`, `,`
-- or `|`.
-- Written for Redis's Lua, where a table, a closure, a JSON decode or a string.format per limit cost more than the
-- limit's arithmetic (docs/benchmarks/proxy.md, issue 16): nothing is decoded, the limits are parallel arrays, numbers
-- go to redis.call as they are (Redis writes a Lua number with %.17g: exact), and a request costs one HMGET and one
-- HSET of the state at admission and one HINCRBY per in-flight or token limit at its end.
local rl_state = KEYS[1] .. ':rl'

-- Window lengths (ms) of the per-minute and per-day limits.
local rl_period = {rpm = 60000, tpm = 60000, rpd = 86400000}

-- GCRA (the generic cell rate algorithm): a limit of L units per period P admits L at once and then one every P/L
-- (`interval`). Its only state is the theoretical arrival time `tat` (ms, a double): max(tat, now) - now is the
-- part of the window in use, so (max(tat, now) - now) / interval units are used now, and tat - now is when the bucket
-- is full again (OpenAI's reset). Exact across replicas: every check and update happens inside one script.

local rl_none = {headers = {-1, 0, 0, -1, 0, 0}}

-- A scope's limits as stored (RateLimitSettings.ToStored): `<rpm> <tpm> <rpd> <max in flight>` (0: no such limit), then
-- ` <model>=<rpm>,<tpm>` per model with limits of its own. Returns rpm, tpm, rpd, max in flight, and the model's rpm
-- and tpm (0: none). A set stored as JSON (before this form; still valid) is decoded.
local function rl_parse(s, model, needle)
  if string.byte(s, 1) == 123 then
    local d = cjson.decode(s)
    local m = type(d.models) == 'table' and d.models[model]
    m = type(m) == 'table' and m or {}
    return tonumber(d.rpm) or 0, tonumber(d.tpm) or 0, tonumber(d.rpd) or 0, tonumber(d.max_in_flight) or 0,
      tonumber(m.rpm) or 0, tonumber(m.tpm) or 0
  end
  local rpm, tpm, rpd, cap = string.match(s, '^(%d+) (%d+) (%d+) (%d+)')
  local m_rpm, m_tpm = 0, 0
  local at = string.find(s, needle, 1, true)
  if at then
    m_rpm, m_tpm = string.match(s, '^(%d+),(%d+)', at + #needle)
  end
  return tonumber(rpm), tonumber(tpm), tonumber(rpd), tonumber(cap), tonumber(m_rpm), tonumber(m_tpm)
end

-- A request's limits are one flat table, six slots each (a table per limit cost more than its arithmetic): the index of
-- its config, its window, its limit, the index of its state field in `reads` (a token bucket's give-back field follows
-- it), then, set by rl_admit, the value rl_commit writes and whether a give-back was applied.
local function rl_add(l, reads, c, field, window, limit)
  local k = #l + 1
  reads[#reads + 1] = field
  l[k], l[k + 1], l[k + 2], l[k + 3], l[k + 4], l[k + 5] = c, window, limit, #reads, false, false
  if window == 'tpm' then
    reads[#reads + 1] = field .. ':b'
  end
end

-- The scopes of a request's limits, in the order they are checked (which decides ties): name (for a refusal), and the
-- prefix of their state fields given the key id or project.
local rl_scopes = {{'key', 'k:'}, {'project', 'p:'}, {'account', 'a'}}

-- Checks every limit that applies to a request, counting nothing. `stored`: the limit sets (or false) of the key, its
-- project and the account; a set's limits apply to every model, its model's to that model too, checked per set in this
-- order: its rpm, rpd, tpm, the model's rpm, tpm, then in flight.
-- Returns {l, reads (see rl_add), tokens, refused = the limit that makes the request wait longest (nil: none),
-- headers = the tightest request and token limits}; rl_none without limits (then nothing is built: most requests).
local function rl_admit(now, model, tokens, key_id, project, stored)
  local l, reads, needle
  for c = 1, 3 do
    local set = stored[c]
    if set and set ~= '' then
      if not l then
        l, reads, needle = {}, {}, ' ' .. model .. '='
      end
      local rpm, tpm, rpd, cap, m_rpm, m_tpm = rl_parse(set, model, needle)
      local scope = rl_scopes[c][2] .. (c == 1 and key_id or c == 2 and project or '')
      if rpm > 0 then rl_add(l, reads, c, scope .. ':rpm', 'rpm', rpm) end
      if rpd > 0 then rl_add(l, reads, c, scope .. ':rpd', 'rpd', rpd) end
      if tpm > 0 then rl_add(l, reads, c, scope .. ':tpm', 'tpm', tpm) end
      if m_rpm > 0 then rl_add(l, reads, c, scope .. ':m:' .. model .. ':rpm', 'rpm', m_rpm) end
      if m_tpm > 0 then rl_add(l, reads, c, scope .. ':m:' .. model .. ':tpm', 'tpm', m_tpm) end
      if cap > 0 then rl_add(l, reads, c, scope .. ':if', 'in_flight', cap) end
    end
  end
  if not l or #l == 0 then
    return rl_none
  end
  local values = redis.call('HMGET', rl_state, unpack(reads))
  local refused, refused_wait
  -- The tightest limit of each kind: limit, what is left after this request, ms until the bucket is full again.
  local rq_limit, rq_left, rq_reset, tk_limit, tk_left, tk_reset
  for k = 1, #l, 6 do
    local c, window, limit, at = l[k], l[k + 1], l[k + 2], l[k + 3]
    if window == 'in_flight' then
      -- Never below 0 (rl_finish decrements without reading): rl_commit writes the count afresh.
      local running = math.max(0, tonumber(values[at]) or 0)
      l[k + 4] = running + 1
      if running >= limit and not refused then
        refused, refused_wait = {window = 'in_flight', scope = rl_scopes[c][1], limit = limit, used = running, requested = 1, model = false}, 1000
      end
    else
      -- GCRA (see above): tat = max(stored tat, now); this request moves it by cost x interval.
      local is_tokens = window == 'tpm'
      local cost = is_tokens and tokens or 1
      local period = rl_period[window]
      local interval = period / limit
      local tat = tonumber(values[at]) or 0
      local back = is_tokens and tonumber(values[at + 1])
      if back and back ~= 0 then
        -- Tokens given back (or, below 0, used beyond the charge) since the last admission (rl_finish).
        tat = (back > 0 and tat or math.max(tat, now)) - back * interval
        l[k + 5] = true
      end
      tat = math.max(tat, now)
      local after = tat + cost * interval
      local used = (tat - now) / interval
      local left, reset = limit - used - cost, after - now
      if after - now > period + 1e-6 then
        local wait = math.max(0, after - period - now)
        if not refused or wait > refused_wait then
          refused, refused_wait = {window = window, scope = rl_scopes[c][1], limit = limit, used = math.ceil(used - 1e-9), requested = cost,
            model = string.find(reads[at], ':m:', 1, true) ~= nil}, wait
        end
        left, reset = limit - used, tat - now
      end
      l[k + 4] = after
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
  return {l = l, reads = reads, tokens = tokens, refused = refused, headers = headers}
end

-- Counts an admitted request (after its hold is placed), in one HSET: its buckets move on (their give-backs applied),
-- and its in-flight counters go up (from the values rl_admit read in this same script). Returns the request's record for
-- its hold (false: nothing for rl_finish to do): the tokens it was charged, then its token buckets and in-flight
-- counters, space-separated.
local function rl_commit(r)
  local l, reads = r.l, r.reads
  if not l then
    return false
  end
  local record, finish = r.tokens .. '', false
  local writes = {}
  for k = 1, #l, 6 do
    local window, field = l[k + 1], reads[l[k + 3]]
    writes[#writes + 1], writes[#writes + 2] = field, l[k + 4]
    if window ~= 'rpm' and window ~= 'rpd' then
      record, finish = record .. ' ' .. field, true
      if l[k + 5] then
        writes[#writes + 1], writes[#writes + 2] = field .. ':b', 0
      end
    end
  end
  redis.call('HSET', rl_state, unpack(writes))
  return finish and record
end

-- A request ends (once: its hold, which keeps the record, goes): its in-flight counters go down, and when `used` (the
-- tokens it used) is known, its token buckets get back what it was charged beyond that, or are charged what it used
-- beyond it. Without `used` (a lease that ended, see prelude's drop_hold) the admission's estimate stands. The tokens go
-- to the bucket's give-back field, which the next admission applies (an integer HINCRBY here; moving the bucket itself
-- would take a read and a %.17g write). A record written before records moved into holds (the state hash's
-- `h:<request id>`) has `=<interval>` after its token buckets, which is skipped.
local function rl_finish(record, used)
  local charged = tonumber(string.match(record, '^%d+'))
  for field in string.gmatch(record, ' ([^ =]+)') do
    if string.sub(field, -3) == ':if' then
      redis.call('HINCRBY', rl_state, field, -1)
    elseif used and used ~= charged then
      redis.call('HINCRBY', rl_state, field .. ':b', charged - used)
    end
  end
end
