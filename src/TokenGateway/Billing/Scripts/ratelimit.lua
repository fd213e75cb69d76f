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
-- limit's arithmetic (docs/benchmarks/proxy.md, issue 16): nothing is decoded, the limits and the GCRA times are packed
-- doubles (struct), the request's limits are one flat array with explicit counts (a table that grows is rehashed at each
-- power of two; `#` is a search), library functions are locals, and a request costs one HMGET and one HSET of the state
-- at admission and one HINCRBY per in-flight or token limit at its end. scripts/bench-lua.sh measures them (-c: in
-- redis-server's instructions).
local rl_state = KEYS[1] .. ':rl'
local byte, find, match, pack, unpack_bytes = string.byte, string.find, string.match, struct.pack, struct.unpack

-- The kinds of limit, and the window (ms) and name of the three that are GCRA buckets. A token bucket's give-back field
-- follows its own in `reads`.
local RL_IN_FLIGHT, RL_RPM, RL_RPD, RL_TPM = 0, 1, 2, 3
local rl_period = {60000, 86400000, 60000}
local rl_window = {'rpm', 'rpd', 'tpm'}

-- GCRA (the generic cell rate algorithm): a limit of L units per period P admits L at once and then one every P/L
-- (`interval`). Its only state is the theoretical arrival time `tat` (ms, a double): max(tat, now) - now is the
-- part of the window in use, so (max(tat, now) - now) / interval units are used now, and tat - now is when the bucket
-- is full again (OpenAI's reset). Exact across replicas: every check and update happens inside one script.
-- A tat is stored as its 8 bytes (struct '<d'): exact, and a number argument costs Redis a %.17g (glibc's printf_fp) and
-- its reading a strtod, each several times the cost of the pack or unpack (callgrind, docs/benchmarks/proxy.md). A
-- tat stored as a decimal (before) is still read; a replica of that version reads a packed one as an empty bucket, so
-- during a rolling upgrade its requests see the limits as they were at the upgrade, at most one window more.
local function rl_tat(v)
  if not v then
    return 0
  end
  if #v == 8 then
    return (unpack_bytes('<d', v))
  end
  return tonumber(v) or 0
end

-- math.floor(x), exactly (x % 1 is x - floor(x)), in the VM rather than a call into the math library; -rl_floor(-x) is
-- math.ceil(x).
local function rl_floor(x)
  return x - x % 1
end

-- A scope's limits as stored (RateLimitSettings.ToStored): the text `<rpm> <tpm> <rpd> <max in flight>` (0: no such
-- limit), then ` <model>=<rpm>,<tpm>` per model with limits of its own; then a 0 byte and the scope's four limits as packed
-- doubles, unpacked here in one call (matching the text with its four captures and converting them took about ten times
-- the instructions, docs/benchmarks/proxy.md). Returns rpm, tpm, rpd, max in flight, and the model's rpm and tpm
-- (0: none). The text alone (stored before the packed part was added) is matched, and JSON (before that) decoded.
local function rl_parse(s, model, needle)
  local n, text = #s, #s
  local rpm, tpm, rpd, cap
  if n > 33 and byte(s, n - 32) == 0 then
    text = n - 33
    rpm, tpm, rpd, cap = unpack_bytes('<dddd', s, n - 31)
  elseif byte(s, 1) == 123 then
    local d = cjson.decode(s)
    local m = type(d.models) == 'table' and d.models[model]
    m = type(m) == 'table' and m or {}
    return tonumber(d.rpm) or 0, tonumber(d.tpm) or 0, tonumber(d.rpd) or 0, tonumber(d.max_in_flight) or 0,
      tonumber(m.rpm) or 0, tonumber(m.tpm) or 0
  else
    rpm, tpm, rpd, cap = match(s, '^(%d+) (%d+) (%d+) (%d+)')
    rpm, tpm, rpd, cap = tonumber(rpm), tonumber(tpm), tonumber(rpd), tonumber(cap)
  end
  -- A model's limits are in the text (a match in the packed part, were its bytes ever to spell one, is not).
  local at = find(s, needle, 1, true)
  if at and at <= text then
    local m_rpm, m_tpm = match(s, '^(%d+),(%d+)', at + #needle)
    return rpm, tpm, rpd, cap, tonumber(m_rpm), tonumber(m_tpm)
  end
  return rpm, tpm, rpd, cap, 0, 0
end

-- A limit in the request's flat array `l`, four slots each: the index of its scope (1 key, 2 project, 3 account), its
-- kind, its limit, the index of its state field in `reads`. Returns the new counts of `l` and `reads`.
local function rl_add(l, reads, n, nr, c, kind, limit, field)
  l[n + 1], l[n + 2], l[n + 3], l[n + 4] = c, kind, limit, nr + 1
  reads[nr + 1] = field
  if kind == RL_TPM then
    reads[nr + 2] = field .. ':b'
    return n + 4, nr + 2
  end
  return n + 4, nr + 1
end

-- The scopes of a request's limits, in the order they are checked (which decides ties), by name (for a refusal).
local rl_scopes = {'key', 'project', 'account'}

-- Checks every limit that applies to a request, counting nothing. k_set, p_set, a_set: the limit sets (or false) of the
-- key, its project and the account; a set's limits apply to every model, its model's to that model too, checked per
-- set in this order: its rpm, rpd, tpm, the model's rpm, tpm, then in flight.
-- Returns, as values rather than a table (a table per request cost more than the values): the limit that makes the
-- request wait longest (nil: none), the state's writes should the request be admitted (nil: no limit applies, most
-- requests; see rl_commit), the request's record for its hold (nil: nothing for rl_finish to do), then the headers:
-- limit, remaining and reset (ms) of the tightest request limit and of the tightest token limit (limit -1: none).
-- The record is the tokens charged, then the fields rl_finish changes: its token buckets' give-back fields (`:b`) and its
-- in-flight counters (`:if`), space-separated, so that the settle builds no field name.
local function rl_admit(now, model, tokens, key_id, project, k_set, p_set, a_set)
  local l, reads, n, nr, needle
  for c = 1, 3 do
    local set
    if c == 1 then set = k_set elseif c == 2 then set = p_set else set = a_set end
    if set and set ~= '' then
      if not l then
        -- Sized for the common sets (a table that grows is rehashed at every power of two).
        l, reads, n, nr = {nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil}, {nil, nil, nil, nil, nil, nil}, 0, 0
        needle = ' ' .. model .. '='
      end
      local rpm, tpm, rpd, cap, m_rpm, m_tpm = rl_parse(set, model, needle)
      local scope = c == 1 and 'k:' .. key_id or c == 2 and 'p:' .. project or 'a'
      if rpm > 0 then n, nr = rl_add(l, reads, n, nr, c, RL_RPM, rpm, scope .. ':rpm') end
      if rpd > 0 then n, nr = rl_add(l, reads, n, nr, c, RL_RPD, rpd, scope .. ':rpd') end
      if tpm > 0 then n, nr = rl_add(l, reads, n, nr, c, RL_TPM, tpm, scope .. ':tpm') end
      if m_rpm > 0 then n, nr = rl_add(l, reads, n, nr, c, RL_RPM, m_rpm, scope .. ':m:' .. model .. ':rpm') end
      if m_tpm > 0 then n, nr = rl_add(l, reads, n, nr, c, RL_TPM, m_tpm, scope .. ':m:' .. model .. ':tpm') end
      if cap > 0 then n, nr = rl_add(l, reads, n, nr, c, RL_IN_FLIGHT, cap, scope .. ':if') end
    end
  end
  if not l or n == 0 then
    return nil, nil, nil, -1, 0, 0, -1, 0, 0
  end
  local values = redis.call('HMGET', rl_state, unpack(reads, 1, nr))
  local writes, nw, ends, ne = {nil, nil, nil, nil, nil, nil, nil, nil, nil, nil}, 0, {tokens, nil, nil}, 1
  local refused, refused_wait
  -- The tightest limit of each kind: limit, what is left after this request, ms until the bucket is full again.
  local rq_limit, rq_left, rq_reset, tk_limit, tk_left, tk_reset
  for k = 1, n, 4 do
    local kind, limit, at = l[k + 1], l[k + 2], l[k + 3]
    local field = reads[at]
    if kind == RL_IN_FLIGHT then
      -- Never below 0 (rl_finish decrements without reading): written afresh here.
      local running = tonumber(values[at]) or 0
      if running < 0 then running = 0 end
      writes[nw + 1], writes[nw + 2], nw = field, running + 1, nw + 2
      ends[ne + 1], ne = field, ne + 1
      if running >= limit and not refused then
        refused, refused_wait = {window = 'in_flight', scope = rl_scopes[l[k]], limit = limit, used = running, requested = 1, model = false}, 1000
      end
    else
      -- GCRA (see above): tat = max(stored tat, now); this request moves it by cost x interval.
      local period = rl_period[kind]
      local interval = period / limit
      local tat = rl_tat(values[at])
      local cost = 1
      if kind == RL_TPM then
        cost = tokens
        local back = tonumber(values[at + 1])
        if back and back ~= 0 then
          -- Tokens given back (or, below 0, used beyond the charge) since the last admission (rl_finish).
          if back < 0 and tat < now then tat = now end
          tat = tat - back * interval
          writes[nw + 1], writes[nw + 2], nw = reads[at + 1], '0', nw + 2
        end
        ends[ne + 1], ne = reads[at + 1], ne + 1
      end
      if tat < now then tat = now end
      local after = tat + cost * interval
      local used = (tat - now) / interval
      local left, reset = limit - used - cost, after - now
      if after - now > period + 1e-6 then
        local wait = after - period - now
        if wait < 0 then wait = 0 end
        if not refused or wait > refused_wait then
          refused, refused_wait = {window = rl_window[kind], scope = rl_scopes[l[k]], limit = limit, used = -rl_floor(1e-9 - used), requested = cost,
            model = find(field, ':m:', 1, true) ~= nil}, wait
        end
        left, reset = limit - used, tat - now
      end
      writes[nw + 1], writes[nw + 2], nw = field, pack('<d', after), nw + 2
      -- The stored `left` is what the header shows (whole units, not below 0), and the next limit is compared with it.
      if kind == RL_TPM then
        if not tk_limit or left < tk_left then
          tk_limit, tk_left, tk_reset = limit, left < 0 and 0 or rl_floor(left + 1e-9), reset
        end
      elseif not rq_limit or left < rq_left then
        rq_limit, rq_left, rq_reset = limit, left < 0 and 0 or rl_floor(left + 1e-9), reset
      end
    end
  end
  if refused then
    refused.wait = refused_wait
  end
  local r1, r2, r3, t1, t2, t3 = -1, 0, 0, -1, 0, 0
  if rq_limit then
    r1, r2, r3 = rq_limit, rq_left, rq_reset > 0 and -rl_floor(-rq_reset) or 0
  end
  if tk_limit then
    t1, t2, t3 = tk_limit, tk_left, tk_reset > 0 and -rl_floor(-tk_reset) or 0
  end
  return refused, writes, ne > 1 and table.concat(ends, ' ', 1, ne) or nil, r1, r2, r3, t1, t2, t3
end

-- Counts an admitted request (after its hold is placed), in one HSET of what rl_admit worked out in this same script:
-- its buckets move on (their give-backs applied), and its in-flight counters go up.
local function rl_commit(writes)
  if writes then
    redis.call('HSET', rl_state, unpack(writes))
  end
end

-- A request ends (once: its hold, which keeps the record, goes): its in-flight counters go down, and when `used` (the
-- tokens it used) is known, its token buckets get back what it was charged beyond that, or are charged what it used
-- beyond it. Without `used` (a lease that ended, see prelude's drop_hold) the admission's estimate stands. The tokens go
-- to the bucket's give-back field, which the next admission applies (an integer HINCRBY here; moving the bucket itself
-- would take a read and a %.17g write). A field is told by its last byte: `f` an in-flight counter, `b` a give-back
-- field; a record written before records named the give-back fields names the bucket itself, and one written before
-- records moved into holds (the state hash's `h:<request id>`) has `=<interval>` after its token buckets, which is skipped.
local function rl_finish(record, used)
  local back = used and tonumber(match(record, '^%d+')) - used
  -- Formatted once for all its buckets (Redis formats a number argument with %.17g on every call).
  back = back and back ~= 0 and tostring(back)
  for field in string.gmatch(record, ' ([^ =]+)') do
    local last = byte(field, -1)
    if last == 102 then
      redis.call('HINCRBY', rl_state, field, -1)
    elseif back then
      redis.call('HINCRBY', rl_state, last == 98 and field or field .. ':b', back)
    end
  end
end
