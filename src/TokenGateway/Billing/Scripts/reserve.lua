-- Reserve: check the key, the model allowlist and every limit, then place a hold (a lease) for
-- the request's worst-case cost. KEYS[9] = the key's hash.
-- ARGV: key sha, now ms, request id, model, month (yyyymm), key id, input cost, output price
-- (pico-USD per token), max output tokens, choices, explicit limit (1/0), minimum output tokens,
-- overdraft, hold ttl ms, largest share of the room a request without an explicit limit may hold
-- (parts per million), the input's token estimate for the tokens-per-minute limits.
-- The key's project (its hash's `project`, `default` when absent) has a monthly hard limit and its holds counted like the
-- account's (fields phard:, pspend:<month>:, pheld: of the account hash), so the invariant holds per project too.
-- Rate limits (ratelimit.lua) are checked once the hold is known (a tokens-per-minute limit is charged the input estimate
-- plus the output limit granted, times choices, as OpenAI does) and counted only with the hold: a refusal changes nothing.
-- Returns {0, hold, output tokens granted, rate-limit headers…} | {1} bad key (or its project archived)
--       | {2} model not allowed | {3, limit, room, needed, project} insufficient quota
--       | {4, window, scope, limit, used, requested, wait ms, per model (1/0), project, rate-limit headers…} rate limited.
-- The rate-limit headers: limit, remaining and reset (ms) of the tightest request limit, then of the tightest token limit
-- (limit -1: none applies).
local key = KEYS[9]
local sha, now, request_id, model, month, key_id = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local input_cost, out_pico, max_out, choices = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local explicit, min_out, overdraft, ttl = ARGV[11] == '1', tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
local share_ppm, input_estimate = tonumber(ARGV[15]), tonumber(ARGV[16])

local usable, models, key_budget, project = key_usable(key, sha, now)
if not usable then
  return {1}
end
if models and models ~= '' then
  local allowed = false
  for pattern in string.gmatch(models, '[^,]+') do
    if pattern == model or (string.sub(pattern, -1) == '*' and string.sub(model, 1, #pattern - 1) == string.sub(pattern, 1, -2)) then
      allowed = true
      break
    end
  end
  if not allowed then
    return {2}
  end
end

touch(now)
local a = redis.call('HMGET', acct, 'balance', 'held', 'hard_limit', 'spend:' .. month, 'kheld:' .. key_id, 'kspend:' .. month .. ':' .. key_id,
  'pstatus:' .. project, 'phard:' .. project, 'pspend:' .. month .. ':' .. project, 'pheld:' .. project,
  'rl:k:' .. key_id, 'rl:p:' .. project, 'rl:a')
if a[7] == 'archived' then
  return {1}
end
local held = num(a[2])
-- room: what this request may still hold under the tightest of balance, hard limit, project limit and key budget.
local room, limit = num(a[1]) + overdraft - held, 'balance'
if a[3] and a[3] ~= '' then
  local r = tonumber(a[3]) - num(a[4]) - held
  if r < room then room, limit = r, 'hard_limit' end
end
if a[8] and a[8] ~= '' then
  local r = tonumber(a[8]) - num(a[9]) - num(a[10])
  if r < room then room, limit = r, 'project_limit' end
end
if key_budget and key_budget ~= '' then
  local r = tonumber(key_budget) - num(a[6]) - num(a[5])
  if r < room then room, limit = r, 'key_budget' end
end

local function output_cost(tokens)
  return math.floor((tokens * choices * out_pico + 999999) / 1000000)
end

-- The most output tokens (at most max_out) a hold of `budget` pays for with the input (doubles may be one off; fixed below).
local function affordable(budget)
  if budget <= input_cost then
    return 0
  end
  local t = math.min(max_out, math.floor((budget - input_cost) * 1000000 / (choices * out_pico)))
  while t > 0 and input_cost + output_cost(t) > budget do
    t = t - 1
  end
  return t
end

local granted = max_out
-- Fair share: a request that set no output limit holds at most a share of the room, its limit lowered to
-- match, but never below the minimum (which the room check below may still refuse). The share is a cap
-- the room check does not rely on: its rounding cannot let a hold past the room.
if not explicit and out_pico > 0 and max_out > 0 and share_ppm < 1000000 then
  local share = math.floor(room * share_ppm / 1000000)
  if input_cost + output_cost(max_out) > share then
    granted = math.max(affordable(share), math.min(min_out, max_out))
  end
end

local hold = input_cost + output_cost(granted)
if hold > room then
  if explicit or out_pico == 0 or room <= input_cost then
    return {3, limit, room, hold, project}
  end
  -- No explicit limit: lower the output limit to what the room pays for.
  local t = affordable(room)
  if t < min_out then
    return {3, limit, room, input_cost + output_cost(min_out), project}
  end
  hold, granted = input_cost + output_cost(t), t
end

local refused, writes, record, r1, r2, r3, t1, t2, t3 = rl_admit(now, model, input_estimate + granted * choices, key_id, project, a[11], a[12], a[13])
if refused then
  local f = refused
  return {4, f.window, f.scope, f.limit, f.used, f.requested, math.ceil(f.wait), f.model and 1 or 0, project, r1, r2, r3, t1, t2, t3}
end

redis.call('HSET', holds, request_id, hold_value(hold, key_id, project, record))
rl_commit(writes)
redis.call('ZADD', hold_exp, now + ttl, request_id)
-- The held amounts as read by the HMGET above (nothing changed them since), in one HSET: inside a script a command costs
-- more than computing its value (three HINCRBYs took 2-4 µs more a reserve, docs/benchmarks/proxy.md, issue 16).
redis.call('HSET', acct, 'held', held + hold, 'kheld:' .. key_id, num(a[5]) + hold, 'pheld:' .. project, num(a[10]) + hold)
return {0, hold, granted, r1, r2, r3, t1, t2, t3}
