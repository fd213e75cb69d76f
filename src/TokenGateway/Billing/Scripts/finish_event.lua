-- Record the outcome of a delivery attempt. ARGV: now ms, event id, outcome, retry at ms,
-- lifetime of an auto-recharge grant (ms), reason, ledger retention (ms).
-- outcome: retry | delivered | approved (funding: grant the recharge) | refused (funding: release its
-- share of the monthly recharge limit, grant nothing). A team admin's credit request (type credit.requested) is
-- granted or refused instead, and its status recorded in KEYS[9]. Returns the ids of the events it emitted.
local now, id, outcome = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local json = redis.call('HGET', outbox, id)
if not json then
  return {}
end
if outcome == 'retry' then
  redis.call('ZADD', outbox_due, tonumber(ARGV[4]), id)
  return {}
end
redis.call('HDEL', outbox, id, id .. '#attempts')
redis.call('ZREM', outbox_due, id)
local event = cjson.decode(json)
local data = event.data
if event.type == 'credit.requested' then
  -- A team admin's credit request (request_credit.lua): the funding webhook's answer grants it or refuses it.
  local request = cjson.decode(redis.call('HGET', KEYS[9], data.request_id) or '{}')
  request.decided_ms = int(now)
  if outcome == 'approved' then
    touch(now)
    data.balance_micros = int(add_grant(now, id, tonumber(data.amount_micros), 'manual', now + tonumber(ARGV[5]), 'request_id', data.request_id))
    request.status = 'approved'
    emit(now, id .. ':approved', 'credit.approved', data)
    trim_ledger(now, tonumber(ARGV[7]))
  elseif outcome == 'refused' then
    data.reason = ARGV[6]
    request.status, request.reason = 'refused', ARGV[6]
    emit(now, id .. ':refused', 'credit.refused', data)
  end
  redis.call('HSET', KEYS[9], data.request_id, cjson.encode(request))
elseif outcome == 'approved' then
  touch(now)
  data.balance_micros = int(add_grant(now, id, tonumber(data.amount_micros), 'auto_recharge', now + tonumber(ARGV[5]), 'mode', 'webhook'))
  emit(now, id .. ':succeeded', 'auto_recharge.succeeded', data)
  trim_ledger(now, tonumber(ARGV[7]))
elseif outcome == 'refused' then
  redis.call('HINCRBY', acct, 'ar_month:' .. data.month, -tonumber(data.amount_micros))
  data.reason = ARGV[6]
  emit(now, id .. ':failed', 'auto_recharge.failed', data)
end
return emitted
