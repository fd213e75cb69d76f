-- Settle: replace the hold by the actual cost, append the ledger entry and the usage counters.
-- Idempotent by request id. KEYS[7] = settled marker for this request, KEYS[8] = the day's usage hash.
-- ARGV: request id, now ms, cost, month (yyyymm), key id, model, input, cached, output tokens.
-- Returns {0, balance} settled | {1, balance} already settled.
local request_id, now, cost, month, key_id, model = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6]
if not redis.call('SET', KEYS[7], cost, 'NX', 'PX', 86400000) then
  return {1, num(redis.call('HGET', acct, 'balance'))}
end
drop_hold(request_id)
touch(now)
if cost <= 0 then
  return {0, num(redis.call('HGET', acct, 'balance'))}
end
local balance = draw(cost)
redis.call('HINCRBY', acct, 'spend:' .. month, cost)
redis.call('HINCRBY', acct, 'kspend:' .. month .. ':' .. key_id, cost)
ledger_add(now, 'debit', -cost, balance, 'request_id', request_id, 'model', model, 'key_id', key_id,
  'input_tokens', ARGV[7], 'cached_tokens', ARGV[8], 'output_tokens', ARGV[9])
local prefix = model .. '|' .. key_id .. '|'
redis.call('HINCRBY', KEYS[8], prefix .. 'requests', 1)
redis.call('HINCRBY', KEYS[8], prefix .. 'input', ARGV[7])
redis.call('HINCRBY', KEYS[8], prefix .. 'cached', ARGV[8])
redis.call('HINCRBY', KEYS[8], prefix .. 'output', ARGV[9])
redis.call('HINCRBY', KEYS[8], prefix .. 'cost', cost)
return {0, balance}
