-- Read an account after applying lease and grant expiry, so what an operator sees is current.
-- ARGV: now ms. Returns {account hash as a flat list, grants hash as a flat list} or {} when missing.
local now = tonumber(ARGV[1])
if redis.call('EXISTS', acct) == 0 then
  return {}
end
touch(now)
return {redis.call('HGETALL', acct), redis.call('HGETALL', grants)}
