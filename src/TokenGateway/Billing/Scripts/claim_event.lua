-- Claim an outbox event for one delivery attempt: only when it is due, and then pushed out by a lease,
-- so two replicas never deliver it at once and a crashed attempt is retried after the lease.
-- ARGV: now ms, event id, lease ms. Returns {} gone | {0, due ms} not due yet | {event json, attempt number}.
local now, id, lease = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local due = redis.call('ZSCORE', outbox_due, id)
if not due then
  return {}
end
if tonumber(due) > now then
  return {0, due}
end
local event = redis.call('HGET', outbox, id)
if not event then
  redis.call('ZREM', outbox_due, id)
  return {}
end
redis.call('ZADD', outbox_due, now + lease, id)
return {event, redis.call('HINCRBY', outbox, id .. '#attempts', 1)}
