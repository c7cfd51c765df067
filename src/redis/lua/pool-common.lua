--[[
  pool-common.lua — prepended by scripts.ts to every script whose name starts with a
  verb on the pool (everything here except create-account). It is not a script itself.

  Shared conventions of every pool script:
    KEYS[1] pool hash       <prefix>:{acc}:pool
    KEYS[2] ledger stream   <prefix>:{acc}:ledger
    KEYS[3] auths hash      <prefix>:{acc}:auths      (authorizationId -> JSON; "req:<staff>:<request>" -> authorizationId)
    KEYS[4] auth expiry     <prefix>:{acc}:authexp    (zset authorizationId by expiry ms)
    ARGV[1] now (ms since epoch; the caller's clock, so tests control time)
    ARGV[2] events channel  <prefix>:{acc}:events     (sharded pub/sub, same slot as the keys)
    ARGV[3] cycle hint "index:start:end" (ms) for the cycle containing now, or ""

  Shared return codes:
    -1   NO_ACCOUNT   the pool does not exist
    -100 CYCLE_DUE    a reset is due and ARGV[3] did not name the cycle containing now;
                      second element: the billing anchor (ms). Nothing was written: the
                      caller computes the cycle (domain/cycle.ts) and calls again.
]]
local NOW = tonumber(ARGV[1])
local CHANNEL = ARGV[2]
local POOL, LEDGER, AUTHS, AUTHEXP = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

local P = nil        -- the pool, loaded by load_pool()
local changed = false

local POOL_FIELDS = { 'accountId', 'balance', 'reserved', 'monthly', 'pendingMonthly', 'cycleIndex',
  'cycleStart', 'cycleEnd', 'used', 'overage', 'active', 'version', 'anchor', 'inboundPolicy' }

local function load_pool()
  local v = redis.call('HMGET', POOL, unpack(POOL_FIELDS))
  if not v[1] then return false end
  P = {}
  for i, f in ipairs(POOL_FIELDS) do
    if f == 'accountId' or f == 'inboundPolicy' then P[f] = v[i] else P[f] = tonumber(v[i]) end
  end
  return true
end

-- Appends one ledger entry (R13). `minutes` is the signed change of balance, so replaying
-- the ledger (sum of minutes) gives the balance; balanceAfter is the balance it left.
local function ledger(kind, minutes, ref, extra)
  local args = { 'XADD', LEDGER, '*', 'kind', kind, 'minutes', minutes, 'balanceAfter', P.balance,
    'ref', ref, 'at', NOW }
  if extra then
    for i = 1, #extra do args[#args + 1] = extra[i] end
  end
  redis.call(unpack(args))
end

local function snapshot()
  return cjson.encode({
    t = 'balance', accountId = P.accountId, balance = P.balance, reserved = P.reserved,
    available = P.balance - P.reserved, monthlyMinutes = P.monthly,
    pendingMonthlyMinutes = P.pendingMonthly or cjson.null,
    usedThisCycle = P.used, overageThisCycle = P.overage, activeCalls = P.active,
    cycleStart = P.cycleStart, cycleEnd = P.cycleEnd, version = P.version,
  })
end

-- Applies a due cycle reset (R8) exactly once: the stored cycleEnd moves forward in the
-- same script, so every later script finds nothing due. Live reservations carry over.
local function apply_due_reset()
  if NOW < P.cycleEnd then return nil end
  local idx, s, e = string.match(ARGV[3] or '', '^(%-?%d+):(%-?%d+):(%-?%d+)$')
  idx, s, e = tonumber(idx), tonumber(s), tonumber(e)
  if not idx or s > NOW or e <= NOW or s < P.cycleEnd then
    return { -100, P.anchor }
  end
  if P.pendingMonthly then
    P.monthly = P.pendingMonthly
    P.pendingMonthly = nil
    redis.call('HDEL', POOL, 'pendingMonthly')
  end
  local delta = P.monthly - P.balance
  P.balance = P.monthly
  P.used = 0
  P.overage = 0
  P.cycleIndex, P.cycleStart, P.cycleEnd = idx, s, e
  ledger('cycle_reset', delta, 'cycle:' .. idx)
  changed = true
  return nil
end

-- Releases the reservations of authorizations that were never bound to a call (R2).
local function sweep_expired_auths()
  -- Bounded so one script never blocks Redis for long; the rest go in the next script.
  local due = redis.call('ZRANGEBYSCORE', AUTHEXP, '-inf', NOW, 'LIMIT', 0, 1000)
  for _, id in ipairs(due) do
    local raw = redis.call('HGET', AUTHS, id)
    if raw then
      local a = cjson.decode(raw)
      P.reserved = P.reserved - a.r
      redis.call('HDEL', AUTHS, id, 'req:' .. a.s .. ':' .. a.q)
      changed = true
    end
    redis.call('ZREM', AUTHEXP, id)
  end
end

-- Loads the pool and applies what is due. Returns a reply to hand back at once, or nil.
local function prologue()
  if not load_pool() then return { -1 } end
  local early = apply_due_reset()
  if early then return early end
  sweep_expired_auths()
  return nil
end

-- Persists the pool and publishes its snapshot when anything changed; bumps version once
-- per script. Returns the snapshot JSON (or false when nothing changed).
local function finish()
  if not changed then return false end
  P.version = P.version + 1
  redis.call('HSET', POOL, 'balance', P.balance, 'reserved', P.reserved, 'monthly', P.monthly,
    'cycleIndex', P.cycleIndex, 'cycleStart', P.cycleStart, 'cycleEnd', P.cycleEnd, 'used', P.used,
    'overage', P.overage, 'active', P.active, 'version', P.version)
  if P.pendingMonthly then redis.call('HSET', POOL, 'pendingMonthly', P.pendingMonthly) end
  local snap = snapshot()
  redis.call('SPUBLISH', CHANNEL, snap)
  return snap
end

local function publish_call_event(fields)
  fields.t = 'call'
  fields.accountId = P.accountId
  fields.version = P.version
  redis.call('SPUBLISH', CHANNEL, cjson.encode(fields))
end
