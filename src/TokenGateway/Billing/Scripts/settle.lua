-- Settle: replace the hold by the actual cost, append the ledger entry and the usage counters, and
-- raise the soft-limit, threshold, low-balance and auto-recharge events this debit causes.
-- Idempotent by request id. KEYS[9] = settled marker for this request, KEYS[10] = the day's usage hash, KEYS[11] = the
-- key's hash (its `project`), KEYS[12] = the hour's usage hash, KEYS[13] = the minute's usage hash.
-- ARGV: request id, now ms, cost, month (yyyymm), key id, model label, lifetime of an auto-recharge
-- grant (ms), ledger retention (ms), time left until the day's usage hash expires (ms), lifetime of the settled
-- marker (ms), time left until the hour's and the minute's usage hashes expire (ms), minimum top-up (micro-USD), the
-- tokens the request used (input + output, for the tokens-per-minute limits: see rl_finish), n;
-- then n ledger field/value pairs (the billed dimensions, see BilledDimensions.cs); then usage-report metric/value
-- pairs to the end (`li:<line item>` ones, the line items' pico-USD, go to the day's hash only).
-- Returns {0, balance, emitted event ids...} settled | {1, balance} already settled.
local request_id, now, cost, month, key_id, model = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6]
local grant_lifetime, ledger_keep, usage_ttl = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local marker_ttl, hour_ttl, minute_ttl, min_topup = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
local used_tokens, ledger_pairs = tonumber(ARGV[14]), tonumber(ARGV[15])
-- The marker makes the settle idempotent: the first settle of a request id writes it, a replay finds it and charges
-- nothing. A replay is a settle sent again because its answer was lost (timeout, reset, failover): the gateway's own
-- retries come within seconds. So the marker lives Billing:Retention:SettleMarkerSeconds (default twice the hold's
-- lease, 30 min; never less than the lease) instead of a day: markers then weigh rate x 30 min, not rate x 24 h.
-- Kept as its own string with a TTL rather than folded into the account: finding a request id in the ledger means a
-- scan, and a hash field has no expiry of its own before Redis 7.4 (a hash plus an expiry zset costs as much).
-- A settle replayed after its marker is gone would charge again: the settle journal's replay looks for its debit in
-- the ledger first (Billing/SettleReplay.cs).
if not redis.call('SET', KEYS[9], cost, 'NX', 'PX', marker_ttl) then
  -- A hold charged at its lease's end (release_expired_holds: its replica was cut off for longer than the lease) is
  -- charged here only what that charge left out; the marker then holds the full cost, so a replay adds nothing.
  local leased = tonumber(string.match(redis.call('GET', KEYS[9]) or '', '^lease:(%d+)$') or '')
  if not leased or cost <= leased then
    return {1, num(redis.call('HGET', acct, 'balance'))}
  end
  redis.call('SET', KEYS[9], cost, 'PX', marker_ttl)
  cost = cost - leased
end
rl_finish(request_id, used_tokens, now)
drop_hold(request_id)
touch(now)
trim_ledger(now, ledger_keep)
if cost <= 0 then
  return {0, num(redis.call('HGET', acct, 'balance'))}
end
local project = redis.call('HGET', KEYS[11], 'project')
if not project or project == '' then
  project = 'default'
end
local balance = draw(cost)
local spend = redis.call('HINCRBY', acct, 'spend:' .. month, cost)
redis.call('HINCRBY', acct, 'kspend:' .. month .. ':' .. key_id, cost)
local pspend = redis.call('HINCRBY', acct, 'pspend:' .. month .. ':' .. project, cost)
local counters_from = 16 + 2 * ledger_pairs
ledger_add(now, 'debit', -cost, balance, 'request_id', request_id, 'model', model, 'key_id', key_id, 'project_id', project,
  unpack(ARGV, 16, counters_from - 1))

-- Usage counters, field model|key id|project|metric, in the day's, the hour's and the minute's hash (each written only
-- with the dimensions used). Retention: a hash expires a fixed time after its period (the day's
-- Billing:Retention:UsageDays, the hour's and minute's fixed, see UsageReport.cs). Set when it has no expiry yet (PTTL -1:
-- its first write, or a hash written before retention existed); PTTL is a read, so a settle that finds it set writes
-- nothing more. Relative (PEXPIRE, the time left by the gateway's clock), like every other date here.
local prefix = model .. '|' .. key_id .. '|' .. project .. '|'
local periods = {{KEYS[10], usage_ttl}, {KEYS[12], hour_ttl}, {KEYS[13], minute_ttl}}
for p, period in ipairs(periods) do
  local hash = period[1]
  redis.call('HINCRBY', hash, prefix .. 'requests', 1)
  redis.call('HINCRBY', hash, prefix .. 'cost', cost)
  for i = counters_from, #ARGV, 2 do
    if p == 1 or string.sub(ARGV[i], 1, 3) ~= 'li:' then
      redis.call('HINCRBY', hash, prefix .. ARGV[i], ARGV[i + 1])
    end
  end
  if redis.call('PTTL', hash) == -1 then
    redis.call('PEXPIRE', hash, period[2])
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

-- Soft limit: the marker field makes it one event per account and month, whoever settles first.
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

-- Threshold alerts: percentages (a comma list) of the hard limit, or of the soft limit when there is no hard limit.
-- Like the soft limit, a marker field per (scope, month, percentage) makes each crossing one event whoever settles first.
local function thresholds(list, hard, soft_limit, month_spend, scope, project_id)
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
thresholds(a[9], a[8], a[1], spend, '*', nil)
thresholds(a[14], a[13], a[12], pspend, project, project)

-- Low balance: on the debit that takes the balance from at or above the threshold to below it (exactly one settle sees
-- that crossing); it is raised again only after the balance has been above the threshold once more.
local low = tonumber(a[10])
if low and balance + cost >= low and balance < low then
  emit(now, 'balance_low:' .. request_id, 'balance.low', {threshold_micros = int(low), balance_micros = int(balance)})
end

-- Auto-recharge fires on the debit that takes the balance from at or above the threshold to below
-- it. Settles are serialised by Redis, so exactly one settle sees that crossing however many race.
-- The amount is fixed, or (ar_target) what lifts the balance to the target. Past the monthly limit only the remainder
-- is granted, when it is at least the minimum top-up; otherwise auto_recharge.limit_reached.
local threshold = tonumber(a[3])
if a[2] == '1' and threshold and balance + cost >= threshold and balance < threshold then
  local amount, cap, recharged, target = tonumber(a[4]), tonumber(a[5]), num(a[7]), tonumber(a[11])
  if target then
    amount = math.max(target - balance, min_topup)
  end
  local id = 'recharge:' .. request_id
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
      balance = add_grant(now, id, amount, 'auto_recharge', now + grant_lifetime, 'mode', 'internal', 'request_id', request_id)
      data.balance_micros = int(balance)
      emit(now, id, 'auto_recharge.succeeded', data)
    else
      emit(now, id, 'auto_recharge.requested', data)
    end
  end
end
return {0, balance, unpack(emitted)}
