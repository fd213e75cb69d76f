-- Add a grant (a top-up). Idempotent by KEYS[7], the Idempotency-Key marker.
-- ARGV: grant id, amount, source, now ms, expires ms, idempotency ttl ms.
-- A negative balance is paid first from the new grant; the ledger entry says how much.
-- Returns {0, grant id, balance} | {1, grant id of the earlier identical request, balance}.
local gid, amount, source, now, expires = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
if redis.call('EXISTS', acct) == 0 then
  return {2}
end
local earlier = redis.call('GET', KEYS[7])
if earlier then
  return {1, earlier, num(redis.call('HGET', acct, 'balance'))}
end
touch(now)
local before = num(redis.call('HGET', acct, 'balance'))
local debt = math.max(0, -before)
local remaining = math.max(0, amount - debt)
redis.call('HSET', grants, gid, remaining, gid .. ':meta', amount .. '|' .. source .. '|' .. now .. '|' .. expires)
if remaining > 0 then
  redis.call('ZADD', grant_order, expires, gid)
end
local balance = redis.call('HINCRBY', acct, 'balance', amount)
ledger_add(now, 'grant', amount, balance, 'grant_id', gid, 'source', source, 'covered_debt', math.min(amount, debt))
redis.call('SET', KEYS[7], gid, 'PX', tonumber(ARGV[6]))
return {0, gid, balance}
