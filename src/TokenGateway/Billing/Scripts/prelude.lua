-- Prepended to every account script. KEYS[1..8] are, in this order, the account's:
-- hash, holds hash, hold-expiry zset, grant-order zset, grants hash, ledger stream, outbox hash
-- (event id -> JSON) and outbox-due zset (event id -> next delivery attempt, ms).
-- Every key carries the account's hash tag {acct:<id>}, so a script stays on one cluster slot.
-- Money is integer micro-USD; Lua numbers are doubles, exact below 2^53 micro-USD ($9 billion).
local acct, holds, hold_exp, grant_order, grants, ledger = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local outbox, outbox_due = KEYS[7], KEYS[8]

local function num(v)
  return tonumber(v) or 0
end

local function split_hold(v)
  local sep = string.find(v, '|', 1, true)
  return tonumber(string.sub(v, 1, sep - 1)), string.sub(v, sep + 1)
end

-- Integers as decimal strings: tostring() and cjson print only 14 significant digits.
local function int(v)
  return string.format('%d', v)
end

-- A ledger entry's id is its date (`now`, the gateway's clock, in ms), so that trimming by age (MINID, see
-- trim_ledger) agrees with the dates the ledger shows, on a real clock or a test's. Ids must increase: an entry dated
-- at or before the last one (an expiry applied late, a replica whose clock is behind) takes the last id's ms with the
-- next sequence number.
local function ledger_add(now, kind, amount, balance, ...)
  local fields = {'type', kind, 'amount', int(amount), 'balance', int(balance), 'ts', int(now), ...}
  local id = int(now) .. '-0'
  local last = redis.call('XREVRANGE', ledger, '+', '-', 'COUNT', 1)[1]
  if last then
    local ms, seq = string.match(last[1], '^(%d+)-(%d+)$')
    if tonumber(ms) >= now then
      id = ms .. '-' .. int(tonumber(seq) + 1)
    end
  end
  local added = redis.pcall('XADD', ledger, id, unpack(fields))
  if type(added) == 'table' and added.err then
    -- Only a stream trimmed empty still remembers a later last id than this entry's date: Redis picks the next one.
    added = redis.call('XADD', ledger, '*', unpack(fields))
  end
  return added
end

-- Ledger retention: entries more than keep_ms older than now go. Approximate (MINID ~): Redis frees whole stream
-- nodes (stream-node-max-entries, 100 by default) once every entry in them is older, so up to a node's worth may
-- outlive the retention a little; no node is rewritten, and one call evicts at most 10,000 entries (Redis's default
-- LIMIT for ~), so it is cheap on every append and a long backlog goes over several calls. The ledger is history:
-- the balance lives in the account's hash and is not changed by trimming.
local function trim_ledger(now, keep_ms)
  redis.call('XTRIM', ledger, 'MINID', '~', int(now - keep_ms))
end

-- Webhook events are written to the account's outbox in the same script as the change that causes
-- them, so an event exists exactly once however many replicas race; the gateway delivers it after.
-- A script returns the ids it emitted (see `emitted`) so delivery starts at once.
local emitted = {}
local function emit(now, id, kind, data)
  if redis.call('HSETNX', outbox, id, cjson.encode({type = kind, ts = int(now), data = data})) == 1 then
    redis.call('ZADD', outbox_due, now, id)
    emitted[#emitted + 1] = id
  end
end

-- A hold is removed together with its share of the account's, the key's and the project's held amounts, and of the
-- rate limits (ratelimit.lua; a settle has ended that share already, with the tokens used).
-- Its value is amount|key id|project (a hold placed before projects existed has no project part).
local function drop_hold(id)
  rl_finish(id)
  local h = redis.call('HGET', holds, id)
  redis.call('ZREM', hold_exp, id)
  if not h then
    return 0
  end
  local amount, owner = split_hold(h)
  local key_id, project = string.match(owner, '^([^|]*)|?(.*)$')
  redis.call('HDEL', holds, id, 'used:' .. id)
  redis.call('HINCRBY', acct, 'held', -amount)
  redis.call('HINCRBY', acct, 'kheld:' .. key_id, -amount)
  if project ~= '' then
    redis.call('HINCRBY', acct, 'pheld:' .. project, -amount)
  end
  return amount
end

-- What is left of an expired grant leaves the balance, with a ledger entry. Applied whenever the
-- account is touched, so correctness needs no background job.
local function expire_grants(now)
-- The entry is dated when the grant expired, even when it is applied later.
  local ids = redis.call('ZRANGEBYSCORE', grant_order, '-inf', now, 'WITHSCORES')
  for i = 1, #ids, 2 do
    local gid, expired_at = ids[i], tonumber(ids[i + 1])
    local remaining = num(redis.call('HGET', grants, gid))
    redis.call('ZREM', grant_order, gid)
    redis.call('HSET', grants, gid, 0)
    if remaining > 0 then
      local balance = redis.call('HINCRBY', acct, 'balance', -remaining)
      ledger_add(expired_at, 'expiry', -remaining, balance, 'grant_id', gid)
    end
  end
end

-- Spend draws from the grant that expires first; what no grant covers makes the balance negative.
local function draw(cost)
  local left = cost
  local ids = redis.call('ZRANGE', grant_order, 0, -1)
  for _, gid in ipairs(ids) do
    if left <= 0 then
      break
    end
    local remaining = num(redis.call('HGET', grants, gid))
    local take = math.min(remaining, left)
    redis.call('HINCRBY', grants, gid, -take)
    left = left - take
    if remaining - take <= 0 then
      redis.call('ZREM', grant_order, gid)
    end
  end
  return redis.call('HINCRBY', acct, 'balance', -cost)
end

-- Holds are leases, renewed by their replica's heartbeat (heartbeat.lua) while the request runs, so a lease that ends
-- means the replica died (or lost Redis for longer than the lease). The hold is then charged what the last heartbeat
-- recorded as consumed ('used:<id>' in the holds hash: input, output streamed so far, priced like a cut stream), with
-- a debit entry like a settle's. Never more than the hold, which fitted in the room when it was placed: the balance
-- stays >= -overdraft. A hold without a record (its replica died before the first heartbeat) is released, as before.
-- The settled marker is written too: a settle that comes after all (from a replica cut off from Redis) charges only
-- what the lease's charge left out (settle.lua), and a replay of it nothing more.
local function charge_lease(now, id, owner, amount, used)
  local key_id, project = string.match(owner, '^([^|]*)|?(.*)$')
  if project == '' then
    project = 'default'
  end
  local u = cjson.decode(used)
  local cost = math.min(tonumber(u.cost), amount)
  -- NOTE: not in KEYS (the id is known only here), but it carries the account's hash tag: the same slot, the same node.
  redis.call('SET', acct .. ':settled:' .. id, 'lease:' .. int(cost), 'NX', 'PX', tonumber(u.marker_ms))
  if cost <= 0 then
    return
  end
  local balance = draw(cost)
  redis.call('HINCRBY', acct, 'spend:' .. u.month, cost)
  redis.call('HINCRBY', acct, 'kspend:' .. u.month .. ':' .. key_id, cost)
  redis.call('HINCRBY', acct, 'pspend:' .. u.month .. ':' .. project, cost)
  ledger_add(now, 'debit', -cost, balance, 'request_id', id, 'model', u.model, 'key_id', key_id, 'project_id', project,
    'lease_expired', '1', unpack(u.fields))
end

local function release_expired_holds(now)
  local ids = redis.call('ZRANGEBYSCORE', hold_exp, '-inf', now, 'LIMIT', 0, 200)
  for _, id in ipairs(ids) do
    local h = redis.call('HGET', holds, id)
    local used = redis.call('HGET', holds, 'used:' .. id)
    local amount = drop_hold(id)
    if h and used then
      local _, owner = split_hold(h)
      charge_lease(now, id, owner, amount, used)
    end
  end
end

-- A grant. A negative balance is paid first from it: only the rest is left to draw from.
local function add_grant(now, gid, amount, source, expires, ...)
  local debt = math.max(0, -num(redis.call('HGET', acct, 'balance')))
  local remaining = math.max(0, amount - debt)
  redis.call('HSET', grants, gid, remaining, gid .. ':meta', int(amount) .. '|' .. source .. '|' .. int(now) .. '|' .. int(expires))
  if remaining > 0 then
    redis.call('ZADD', grant_order, expires, gid)
  end
  local balance = redis.call('HINCRBY', acct, 'balance', amount)
  ledger_add(now, 'grant', amount, balance, 'grant_id', gid, 'source', source, 'covered_debt', int(math.min(amount, debt)), ...)
  return balance
end

-- A gateway key admits a request when the secret is its current one (or the previous one within the
-- rotation grace), it is active and not expired. Returns the key's allowlist and budget fields too.
local function key_usable(key, sha, now)
  local k = redis.call('HMGET', key, 'sha', 'status', 'expires_ms', 'prev_sha', 'prev_until_ms', 'models', 'monthly_limit')
  local secret_ok = k[1] == sha or (k[4] == sha and now < num(k[5]))
  local ok = secret_ok and k[2] == 'active' and not (num(k[3]) > 0 and now >= num(k[3]))
  return ok, k[6], k[7]
end

local function touch(now)
  release_expired_holds(now)
  expire_grants(now)
end
