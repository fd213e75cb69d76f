-- The periodic sweep of one account: apply lease and grant expiry (so reports are current without
-- traffic), trim the ledger of an account nothing appends to any more (retention, see trim_ledger) and list
-- the outbox events due for delivery. ARGV: now ms, most events to return, ledger retention ms.
local now = tonumber(ARGV[1])
if redis.call('EXISTS', acct) == 0 then
  return {}
end
touch(now)
trim_ledger(now, tonumber(ARGV[3]))
return redis.call('ZRANGEBYSCORE', outbox_due, '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
