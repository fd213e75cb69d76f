-- Prepended to every account script. KEYS[1..8] are, in this order, the account's:
-- hash, holds hash, hold-expiry zset, grant-order zset, grants hash, ledger stream, outbox hash
-- (event id -> JSON) and outbox-due zset (event id -> next delivery attempt, ms).
-- Every key carries the account's hash tag {acct:<id>}, so a script stays on one cluster slot.
-- Money is integer micro-USD; Lua numbers are doubles, exact below 2^53 micro-USD ($9 billion).
local acct, holds, hold_exp, grant_order, grants, ledger = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local outbox, outbox_due = KEYS[7], KEYS[8]

local function num(v)
  return tonumber(v) or 0
end

local function split_hold(v)
  local sep = string.find(v, '|', 1, true)
  return tonumber(string.sub(v, 1, sep - 1)), string.sub(v, sep + 1)
end

-- Integers as decimal strings: tostring() and cjson print only 14 significant digits.
local function int(v)
  return string.format('%d', v)
end

-- A ledger entry's id is its date (`now`, the gateway's clock, in ms), so that trimming by age (MINID, see
-- trim_ledger) agrees with the dates the ledger shows, on a real clock or a test's. Ids must increase: `<ms>-*` takes the
-- next sequence number within the same ms, and an entry dated before the last one (an expiry applied late, a replica
-- whose clock is behind) takes the last id's ms with the next sequence number. One XADD in the common case (reading the
-- last id first cost a command on every debit).
-- `ledger_trim_below`, when a script sets it (settle.lua), trims the ledger in the same XADD (MINID ~, see trim_ledger).
local ledger_trim_below
local function ledger_add(now, kind, amount, balance, ...)
  local fields = {'type', kind, 'amount', int(amount), 'balance', int(balance), 'ts', int(now), ...}
  local trim = ledger_trim_below and {'MINID', '~', int(ledger_trim_below)} or {}
  local function add(id, call)
    local args = {ledger}
    for _, v in ipairs(trim) do args[#args + 1] = v end
    args[#args + 1] = id
    for _, v in ipairs(fields) do args[#args + 1] = v end
    return call('XADD', unpack(args))
  end
  local added = add(int(now) .. '-*', redis.pcall)
  if type(added) == 'table' and added.err then
    local last = redis.call('XREVRANGE', ledger, '+', '-', 'COUNT', 1)[1]
    added = last and add(string.match(last[1], '^(%d+)-') .. '-' .. int(tonumber(string.match(last[1], '-(%d+)$')) + 1), redis.pcall)
    if not last or (type(added) == 'table' and added.err) then
      -- Only a stream trimmed empty still remembers a later last id than this entry's date: Redis picks the next one.
      added = add('*', redis.call)
    end
  end
  return added
end

-- Ledger retention: entries more than keep_ms older than now go. Approximate (MINID ~): Redis frees whole stream
-- nodes (stream-node-max-entries, 100 by default) once every entry in them is older, so up to a node's worth may
-- outlive the retention a little; no node is rewritten, and one call evicts at most 10,000 entries (Redis's default
-- LIMIT for ~), so it is cheap on every append and a long backlog goes over several calls. The ledger is history:
-- the balance lives in the account's hash and is not changed by trimming.
local function trim_ledger(now, keep_ms)
  redis.call('XTRIM', ledger, 'MINID', '~', int(now - keep_ms))
end

-- Webhook events are written to the account's outbox in the same script as the change that causes
-- them, so an event exists exactly once however many replicas race; the gateway delivers it after.
-- A script returns the ids it emitted (see `emitted`) so delivery starts at once.
local emitted = {}
local function emit(now, id, kind, data)
  if redis.call('HSETNX', outbox, id, cjson.encode({type = kind, ts = int(now), data = data})) == 1 then
    redis.call('ZADD', outbox_due, now, id)
    emitted[#emitted + 1] = id
  end
end

-- A hold is removed together with its share of the account's, the key's and the project's held amounts, and of the
-- rate limits (ratelimit.lua's rl_finish: `used`, the tokens the request used when known, corrects its tokens per minute).
-- Its value is amount|key id|project|rate-limit record (hold_value; `0`: no rate limit applied). A hold placed before
-- projects existed has no project part; one placed before records moved into holds has none (`|0` when no limit applied),
-- and its record, if any, is the state hash's `h:<request id>`, as it was then.
-- Returns the hold's amount, key id and project ('' for a hold placed before projects), or 0 when there was no hold.
local function hold_value(amount, key_id, project, record)
  return amount .. '|' .. key_id .. '|' .. project .. '|' .. (record or '0')
end

local function drop_hold(id, used, now)
  local h = redis.call('HGET', holds, id)
  redis.call('ZREM', hold_exp, id)
  if not h then
    return 0
  end
  local amount, owner = split_hold(h)
  local key_id, project, record = string.match(owner, '^([^|]*)|?([^|]*)|?(.*)$')
  if record == '' then
    local legacy = redis.call('HGET', rl_state, 'h:' .. id)
    if legacy then
      redis.call('HDEL', rl_state, 'h:' .. id)
      rl_finish(legacy, used)
    end
  elseif record ~= '0' then
    rl_finish(record, used)
  end
  redis.call('HDEL', holds, id, 'used:' .. id)
  redis.call('HINCRBY', acct, 'held', -amount)
  redis.call('HINCRBY', acct, 'kheld:' .. key_id, -amount)
  if project ~= '' then
    redis.call('HINCRBY', acct, 'pheld:' .. project, -amount)
  end
  return amount, key_id, project
end

-- What is left of an expired grant leaves the balance, with a ledger entry. Applied whenever the
-- account is touched, so correctness needs no background job.
local function expire_grants(now)
-- The entry is dated when the grant expired, even when it is applied later.
  local ids = redis.call('ZRANGEBYSCORE', grant_order, '-inf', now, 'WITHSCORES')
  for i = 1, #ids, 2 do
    local gid, expired_at = ids[i], tonumber(ids[i + 1])
    local remaining = num(redis.call('HGET', grants, gid))
    redis.call('ZREM', grant_order, gid)
    redis.call('HSET', grants, gid, 0)
    if remaining > 0 then
      local balance = redis.call('HINCRBY', acct, 'balance', -remaining)
      ledger_add(expired_at, 'expiry', -remaining, balance, 'grant_id', gid)
    end
  end
end

-- Spend draws from the grant that expires first; what no grant covers makes the balance negative. A grant past its
-- expiry is expired first (expire_grants), so a script that draws needs no touch() for that.
local function draw(now, cost)
  local left = cost
  local order = redis.call('ZRANGE', grant_order, 0, -1, 'WITHSCORES')
  if order[2] and tonumber(order[2]) <= now then
    expire_grants(now)
    order = redis.call('ZRANGE', grant_order, 0, -1, 'WITHSCORES')
  end
  for i = 1, #order, 2 do
    local gid = order[i]
    if left <= 0 then
      break
    end
    local remaining = num(redis.call('HGET', grants, gid))
    local take = math.min(remaining, left)
    redis.call('HINCRBY', grants, gid, -take)
    left = left - take
    if remaining - take <= 0 then
      redis.call('ZREM', grant_order, gid)
    end
  end
  return redis.call('HINCRBY', acct, 'balance', -cost)
end

-- A grant. A negative balance is paid first from it: only the rest is left to draw from.
local function add_grant(now, gid, amount, source, expires, ...)
  local debt = math.max(0, -num(redis.call('HGET', acct, 'balance')))
  local remaining = math.max(0, amount - debt)
  redis.call('HSET', grants, gid, remaining, gid .. ':meta', int(amount) .. '|' .. source .. '|' .. int(now) .. '|' .. int(expires))
  if remaining > 0 then
    redis.call('ZADD', grant_order, expires, gid)
  end
  local balance = redis.call('HINCRBY', acct, 'balance', amount)
  ledger_add(now, 'grant', amount, balance, 'grant_id', gid, 'source', source, 'covered_debt', int(math.min(amount, debt)), ...)
  return balance
end

-- Threshold alerts: percentages (a comma list) of the hard limit, or of the soft limit when there is no hard limit.
-- Like the soft limit, a marker field per (scope, month, percentage) makes each crossing one event whoever debits first.
local function thresholds(now, month, list, hard, soft_limit, month_spend, scope, project_id)
  local base, kind = tonumber(hard), 'hard_limit'
  if not base then
    base, kind = tonumber(soft_limit), 'soft_limit'
  end
  if not list or list == '' or not base then
    return
  end
  for pct in string.gmatch(list, '[^,]+') do
    local at = math.ceil(base * tonumber(pct) / 100)
    if month_spend >= at and redis.call('HSETNX', acct, 'alerted:' .. month .. ':' .. scope .. ':' .. pct, int(now)) == 1 then
      emit(now, 'threshold:' .. month .. ':' .. scope .. ':' .. pct, 'budget.threshold_crossed',
        {month = month, project_id = project_id, percent = tonumber(pct), limit = kind, limit_micros = int(base),
         threshold_micros = int(at), month_spend_micros = int(month_spend)})
    end
  end
end

-- What follows a debit, a settle's (settle.lua) or a lease's (charge_lease), so both count and alert alike: the month's
-- spend, the usage counters, the month-field cleanup, and the soft-limit, threshold, low-balance and auto-recharge
-- events this debit causes. `d`: request_id, cost, balance (after the debit), month, key_id, project, model,
-- periods ({usage hash, ms until it expires} of the day, the hour and the minute), counters (usage-report metric/value
-- pairs, `li:` ones to the day's hash only), requests (1, or 0 when a lease's charge already counted the request),
-- less (metric -> value a lease's charge already counted, or nil), grant_lifetime (ms), min_topup (micro-USD).
-- Returns the balance (an internal auto-recharge raises it).
local function after_debit(now, d)
  local month, cost, balance, project = d.month, d.cost, d.balance, d.project
  local spend = redis.call('HINCRBY', acct, 'spend:' .. month, cost)
  redis.call('HINCRBY', acct, 'kspend:' .. month .. ':' .. d.key_id, cost)
  local pspend = redis.call('HINCRBY', acct, 'pspend:' .. month .. ':' .. project, cost)

  -- Usage counters, field model|key id|project|metric, in the day's, the hour's and the minute's hash (each written only
  -- with the dimensions used). Retention: a hash expires a fixed time after its period (the day's
  -- Billing:Retention:UsageDays, the hour's and minute's fixed, see UsageReport.cs). Set (PEXPIRE NX) by the debit that
  -- creates a cell (its cost field is exactly this debit's cost), which the hash's first write always does: no command on
  -- the other debits (a PTTL on every debit was 3 of a settle's commands). Relative (the time left by the gateway's clock),
  -- like every other date here.
  -- The fields and increments are worked out once for the three hashes (Lua's string and number work cost more than
  -- the HINCRBYs themselves, see docs/benchmarks/proxy.md); an increment goes as its ARGV string when nothing is subtracted.
  local prefix = d.model .. '|' .. d.key_id .. '|' .. project .. '|'
  local less = d.less
  local fields, values, every_period = {}, {}, {}
  for i = 1, #d.counters, 2 do
    local metric, value = d.counters[i], d.counters[i + 1]
    local n = #fields + 1
    fields[n], every_period[n] = prefix .. metric, string.sub(metric, 1, 3) ~= 'li:'
    values[n] = (less and less[metric]) and tonumber(value) - less[metric] or value
  end
  local requests_field, cost_field = prefix .. 'requests', prefix .. 'cost'
  for p, period in ipairs(d.periods) do
    local hash = period[1]
    if d.requests ~= 0 then
      redis.call('HINCRBY', hash, requests_field, d.requests)
    end
    local fresh = redis.call('HINCRBY', hash, cost_field, cost) == cost
    for i = 1, #fields do
      if p == 1 or every_period[i] then
        redis.call('HINCRBY', hash, fields[i], values[i])
      end
    end
    if fresh then
      redis.call('PEXPIRE', hash, period[2], 'NX')
    end
  end

  -- The month fields of the account hash (spend:, kspend:<month>:<key>, pspend:<month>:<project>, ar_month:, soft_notified:,
  -- alert markers) are read for the
  -- current month only, and the previous one by a late answer to a funding request (finish_event.lua): the first debit
  -- of a month drops those of earlier months, so the hash does not grow by a field per key and month forever.
  if spend == cost then
    local y, m = tonumber(string.sub(month, 1, 4)), tonumber(string.sub(month, 5, 6))
    local previous = m == 1 and string.format('%04d12', y - 1) or string.format('%04d%02d', y, m - 1)
    local old = {}
    for _, f in ipairs(redis.call('HKEYS', acct)) do
      local of = string.match(f, '^spend:(%d+)$') or string.match(f, '^kspend:(%d+):') or string.match(f, '^ar_month:(%d+)$')
        or string.match(f, '^soft_notified:(%d+)') or string.match(f, '^pspend:(%d+):') or string.match(f, '^alerted:(%d+):')
      if of and of < previous then
        old[#old + 1] = f
        if #old == 500 then
          redis.call('HDEL', acct, unpack(old))
          old = {}
        end
      end
    end
    if #old > 0 then
      redis.call('HDEL', acct, unpack(old))
    end
  end

  local a = redis.call('HMGET', acct, 'soft_limit', 'ar_enabled', 'ar_threshold', 'ar_amount', 'ar_limit', 'ar_mode', 'ar_month:' .. month,
    'hard_limit', 'alerts', 'low_balance', 'ar_target', 'psoft:' .. project, 'phard:' .. project, 'palerts:' .. project)

  -- Soft limit: the marker field makes it one event per account and month, whoever debits first.
  local soft = tonumber(a[1])
  if soft and spend >= soft and redis.call('HSETNX', acct, 'soft_notified:' .. month, int(now)) == 1 then
    emit(now, 'soft_limit:' .. month, 'soft_limit.crossed',
      {month = month, soft_limit_micros = int(soft), month_spend_micros = int(spend)})
  end
  local psoft = tonumber(a[12])
  if psoft and pspend >= psoft and redis.call('HSETNX', acct, 'soft_notified:' .. month .. ':' .. project, int(now)) == 1 then
    emit(now, 'soft_limit:' .. month .. ':' .. project, 'soft_limit.crossed',
      {month = month, project_id = project, soft_limit_micros = int(psoft), month_spend_micros = int(pspend)})
  end

  thresholds(now, month, a[9], a[8], a[1], spend, '*', nil)
  thresholds(now, month, a[14], a[13], a[12], pspend, project, project)

  -- Low balance: on the debit that takes the balance from at or above the threshold to below it (exactly one debit sees
  -- that crossing); it is raised again only after the balance has been above the threshold once more.
  local low = tonumber(a[10])
  if low and balance + cost >= low and balance < low then
    emit(now, 'balance_low:' .. d.request_id, 'balance.low', {threshold_micros = int(low), balance_micros = int(balance)})
  end

  -- Auto-recharge fires on the debit that takes the balance from at or above the threshold to below
  -- it. Debits are serialised by Redis, so exactly one sees that crossing however many race.
  -- The amount is fixed, or (ar_target) what lifts the balance to the target. Past the monthly limit only the remainder
  -- is granted, when it is at least the minimum top-up; otherwise auto_recharge.limit_reached.
  local threshold = tonumber(a[3])
  if a[2] == '1' and threshold and balance + cost >= threshold and balance < threshold then
    local min_topup = d.min_topup
    local amount, cap, recharged, target = tonumber(a[4]), tonumber(a[5]), num(a[7]), tonumber(a[11])
    if target then
      amount = math.max(target - balance, min_topup)
    end
    local id = 'recharge:' .. d.request_id
    local data = {month = month, amount_micros = int(amount), threshold_micros = int(threshold),
      month_recharged_micros = int(recharged), monthly_limit_micros = int(cap), mode = a[6]}
    if target then
      data.target_balance_micros = int(target)
    end
    if recharged + amount > cap then
      local rest = cap - recharged
      if rest >= min_topup and rest > 0 then
        data.requested_micros = int(amount)
        amount = rest
        data.amount_micros = int(amount)
        data.partial = true
      else
        amount = 0
      end
    end
    if amount <= 0 then
      emit(now, id, 'auto_recharge.limit_reached', data)
    else
      -- Counted when raised, so a pending webhook recharge already uses up its part of the cap.
      redis.call('HINCRBY', acct, 'ar_month:' .. month, amount)
      if a[6] == 'internal' then
        balance = add_grant(now, id, amount, 'auto_recharge', now + d.grant_lifetime, 'mode', 'internal', 'request_id', d.request_id)
        data.balance_micros = int(balance)
        emit(now, id, 'auto_recharge.succeeded', data)
      else
        emit(now, id, 'auto_recharge.requested', data)
      end
    end
  end
  return balance
end

-- Holds are leases, renewed by their replica's heartbeat (heartbeat.lua) while the request runs, so a lease that ends
-- means the replica died (or lost Redis for longer than the lease). The hold is then charged what the last heartbeat
-- recorded as consumed ('used:<id>' in the holds hash: input, output streamed so far, priced like a cut stream), with
-- a debit entry like a settle's, and counted and alerted on like one (after_debit: usage counters of the beat's day,
-- hour and minute, soft limit, thresholds, low balance, auto-recharge). Never more than the hold, which fitted in the
-- room when it was placed: the balance stays >= -overdraft. A hold without a record (its replica died before the first
-- heartbeat) is released, as before.
-- The settled marker is written too: a settle that comes after all (from a replica cut off from Redis) charges and
-- counts only what the lease's charge left out (settle.lua), and a replay of it nothing more. The marker is
-- `lease:<cost>` then ` <metric>=<value>` for each usage counter the charge wrote.
local function charge_lease(now, id, key_id, project, amount, used)
  if project == '' then
    project = 'default'
  end
  local u = cjson.decode(used)
  local cost = math.min(tonumber(u.cost), amount)
  local counters = u.counters or {}
  local marker = {'lease:' .. int(cost)}
  for i = 1, #counters, 2 do
    marker[#marker + 1] = counters[i] .. '=' .. counters[i + 1]
  end
  -- NOTE: not in KEYS (the id is known only here), but it carries the account's hash tag: the same slot, the same node.
  redis.call('SET', acct .. ':settled:' .. id, table.concat(marker, ' '), 'NX', 'PX', tonumber(u.marker_ms))
  if cost <= 0 then
    return
  end
  local balance = draw(now, cost)
  ledger_add(now, 'debit', -cost, balance, 'request_id', id, 'model', u.model, 'key_id', key_id, 'project_id', project,
    'lease_expired', '1', unpack(u.fields))
  -- The usage hashes of the beat that recorded the consumption, named in the record by their period (usage:<day>,
  -- usage_h:<hour>, usage_m:<minute>) with the date (ms) they expire; one already past its retention is not written.
  -- NOTE: not in KEYS either (named by the record): built here with the account's hash tag, like the marker above.
  local periods = {}
  for _, period in ipairs(u.periods or {}) do
    local ttl = tonumber(period[2]) - now
    if ttl > 0 then
      periods[#periods + 1] = {acct .. ':' .. period[1], ttl}
    end
  end
  after_debit(now, {request_id = id, cost = cost, balance = balance, month = u.month, key_id = key_id, project = project,
    model = u.model, periods = periods, counters = counters, requests = 1, grant_lifetime = tonumber(u.grant_ms) or 0,
    min_topup = tonumber(u.min_topup) or 0})
end

-- A lease's hold is charged the recorded consumption, and its rate-limit share ends with the tokens the record counts
-- (input + output so far): the tokens-per-minute buckets are corrected to what was charged, as a settle corrects them.
-- A hold without a record ends its share with the admission's estimate standing (drop_hold).
local function release_expired_holds(now)
  local ids = redis.call('ZRANGEBYSCORE', hold_exp, '-inf', now, 'LIMIT', 0, 200)
  for _, id in ipairs(ids) do
    local used = redis.call('HGET', holds, 'used:' .. id)
    local amount, key_id, project = drop_hold(id, used and tonumber(cjson.decode(used).tokens), now)
    if key_id and used then
      charge_lease(now, id, key_id, project, amount, used)
    end
  end
end

-- A gateway key admits a request when the secret is its current one (or the previous one within the
-- rotation grace), it is active and not expired. Returns the key's allowlist, budget and project (`default` when none) too.
local function key_usable(key, sha, now)
  local k = redis.call('HMGET', key, 'sha', 'status', 'expires_ms', 'prev_sha', 'prev_until_ms', 'models', 'monthly_limit', 'project')
  local secret_ok = k[1] == sha or (k[4] == sha and now < num(k[5]))
  local ok = secret_ok and k[2] == 'active' and not (num(k[3]) > 0 and now >= num(k[3]))
  return ok, k[6], k[7], (k[8] and k[8] ~= '') and k[8] or 'default'
end

local function touch(now)
  release_expired_holds(now)
  expire_grants(now)
end
