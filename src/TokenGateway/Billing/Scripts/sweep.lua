-- The periodic sweep of one account: apply lease and grant expiry (so reports are current without
-- traffic) and list the outbox events due for delivery. ARGV: now ms, most events to return.
local now = tonumber(ARGV[1])
if redis.call('EXISTS', acct) == 0 then
  return {}
end
touch(now)
return redis.call('ZRANGEBYSCORE', outbox_due, '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
