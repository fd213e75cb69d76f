-- A team admin asks for credit: the request is recorded as pending (KEYS[9], request id -> JSON) and a
-- 'credit.requested' event for the funding webhook is written to the outbox in the same script, so it exists exactly
-- once; finish_event.lua grants it when the webhook approves, or records the refusal.
-- ARGV: request id, amount, now ms, requested by (the admin key's id).
-- Returns {0} no account | {1, emitted event ids...}.
local id, amount, now, by = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
if redis.call('EXISTS', acct) == 0 then
  return {0}
end
redis.call('HSET', KEYS[9], id, cjson.encode({status = 'pending', amount_micros = int(amount), created_ms = int(now), requested_by = by}))
emit(now, id, 'credit.requested', {request_id = id, amount_micros = int(amount), requested_by = by})
return {1, unpack(emitted)}
