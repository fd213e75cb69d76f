-- Add a grant (a top-up). Idempotent by KEYS[9], the Idempotency-Key marker.
-- ARGV: grant id, amount, source, now ms, expires ms, idempotency ttl ms.
-- Returns {0, grant id, balance} | {1, grant id of the earlier identical request, balance}.
local gid, amount, source, now, expires = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
if redis.call('EXISTS', acct) == 0 then
  return {2}
end
local earlier = redis.call('GET', KEYS[9])
if earlier then
  return {1, earlier, num(redis.call('HGET', acct, 'balance'))}
end
touch(now)
local balance = add_grant(now, gid, amount, source, expires)
redis.call('SET', KEYS[9], gid, 'PX', tonumber(ARGV[6]))
return {0, gid, balance}
