-- Heartbeat of one replica's in-flight requests of this account: renews each hold's lease and records what its request
-- has consumed so far, which release_expired_holds charges if the lease ever ends (the replica died). A hold that is
-- gone (settled, or its lease already charged) is left alone: ZADD XX and the HEXISTS check never bring one back.
-- Deliberately no touch(): a lease past its end but not yet applied is renewed, since its replica is alive after all.
-- ARGV: now ms, lease ms, then (request id, consumption record) pairs; the record is JSON: cost, month, model, fields
-- (the debit's ledger fields) and marker_ms (lifetime of the settled marker). Returns how many holds were renewed.
local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local renewed = 0
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('HEXISTS', holds, id) == 1 then
    redis.call('ZADD', hold_exp, 'XX', now + ttl, id)
    redis.call('HSET', holds, 'used:' .. id, ARGV[i + 1])
    renewed = renewed + 1
  end
end
return renewed
