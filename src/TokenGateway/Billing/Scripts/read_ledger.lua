-- Read ledger entries after a cursor (StackExchange.Redis 1.2.x has no stream commands).
-- KEYS[1] = ledger stream. ARGV: exclusive start id or '-', count.
local start = ARGV[1]
if start ~= '-' then
  start = '(' .. start
end
return redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', tonumber(ARGV[2]))
