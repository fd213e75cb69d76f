-- Add a grant (a top-up). Idempotent by KEYS[9], the Idempotency-Key marker: "grant id|request fingerprint".
-- ARGV: grant id, amount, source, now ms, expires ms, idempotency ttl ms, request fingerprint, ledger retention ms.
-- Returns {0, grant id, balance} | {1, grant id of the earlier identical request, balance} | {2} no account
-- | {3, grant id of the earlier request} when the key was used with a different request (nothing is granted).
local gid, amount, source, now, expires = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local fingerprint = ARGV[7]
if redis.call('EXISTS', acct) == 0 then
  return {2}
end
local earlier = redis.call('GET', KEYS[9])
if earlier then
  local sep = string.find(earlier, '|', 1, true)
  -- A marker written before fingerprints (the grant id alone, at most a week old) replays as it did then.
  local earlier_gid = sep and string.sub(earlier, 1, sep - 1) or earlier
  if sep and string.sub(earlier, sep + 1) ~= fingerprint then
    return {3, earlier_gid}
  end
  return {1, earlier_gid, num(redis.call('HGET', acct, 'balance'))}
end
touch(now)
local balance = add_grant(now, gid, amount, source, expires)
trim_ledger(now, tonumber(ARGV[8]))
redis.call('SET', KEYS[9], gid .. '|' .. fingerprint, 'PX', tonumber(ARGV[6]))
return {0, gid, balance}
