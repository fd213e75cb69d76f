-- Settle: replace the hold by the actual cost, append the ledger entry and the usage counters, and
-- raise the soft-limit, threshold, low-balance and auto-recharge events this debit causes (prelude's after_debit, which
-- a lease's charge shares).
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
local lease_counted
if not redis.call('SET', KEYS[9], cost, 'NX', 'PX', marker_ttl) then
  -- A hold charged at its lease's end (release_expired_holds: its replica was cut off for longer than the lease) is
  -- charged here only what that charge left out; the marker then holds the full cost, so a replay adds nothing.
  -- The usage counters the lease's charge wrote (its marker lists them) are counted here only for the rest too.
  local marker = redis.call('GET', KEYS[9]) or ''
  local leased = tonumber(string.match(marker, '^lease:(%d+)') or '')
  if not leased or cost <= leased then
    return {1, num(redis.call('HGET', acct, 'balance'))}
  end
  redis.call('SET', KEYS[9], cost, 'PX', marker_ttl)
  cost = cost - leased
  lease_counted = {}
  for metric, value in string.gmatch(marker, ' ([^ =]+)=(%-?%d+)') do
    lease_counted[metric] = tonumber(value)
  end
end
-- No touch(): this settle's own hold is dropped by id, draw() expires the grants it would draw from, and other
-- requests' expired leases are the next reserve's or the sweep's (two reads saved on every settle).
local _, _, project = drop_hold(request_id, used_tokens, now)
if cost <= 0 then
  return {0, num(redis.call('HGET', acct, 'balance'))}
end
-- The project from the hold; a settle whose hold is gone (its lease charged, released) or predates projects reads the key's.
if not project or project == '' then
  project = redis.call('HGET', KEYS[11], 'project')
  if not project or project == '' then
    project = 'default'
  end
end
local balance = draw(now, cost)
ledger_trim_below = now - ledger_keep
local counters_from = 16 + 2 * ledger_pairs
ledger_add(now, 'debit', -cost, balance, 'request_id', request_id, 'model', model, 'key_id', key_id, 'project_id', project,
  unpack(ARGV, 16, counters_from - 1))
balance = after_debit(now, {request_id = request_id, cost = cost, balance = balance, month = month, key_id = key_id,
  project = project, model = model, periods = {{KEYS[10], usage_ttl}, {KEYS[12], hour_ttl}, {KEYS[13], minute_ttl}},
  counters = {unpack(ARGV, counters_from)}, requests = lease_counted and 0 or 1, less = lease_counted,
  grant_lifetime = grant_lifetime, min_topup = min_topup})
return {0, balance, unpack(emitted)}
