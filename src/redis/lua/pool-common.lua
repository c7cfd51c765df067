--[[
  pool-common.lua — prepended by scripts.ts to every script whose name starts with a
  verb on the pool (everything here except create-account). It is not a script itself.

  Shared conventions of every pool script:
    KEYS[1] pool hash       <prefix>:{acc}:pool
    KEYS[2] ledger stream   <prefix>:{acc}:ledger
    KEYS[3] auths hash      <prefix>:{acc}:auths      (authorizationId -> JSON; "req:<staff>:<request>" -> authorizationId;
                                                     "req:#<staff>" -> open count, issue #8)
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
local O = nil        -- the pool's fields as loaded (strings): unchanged ones are never re-written
local changed = false

local POOL_FIELDS = { 'accountId', 'balance', 'reserved', 'monthly', 'pendingMonthly', 'cycleIndex',
  'cycleStart', 'cycleEnd', 'used', 'overage', 'active', 'version', 'anchor', 'inboundPolicy' }
-- Written back by finish(), when they changed (pendingMonthly is handled on its own).
local STATE_FIELDS = { 'balance', 'reserved', 'monthly', 'cycleIndex', 'cycleStart', 'cycleEnd', 'used',
  'overage', 'active', 'version' }

local function load_pool()
  local v = redis.call('HMGET', POOL, unpack(POOL_FIELDS))
  if not v[1] then return false end
  P, O = {}, {}
  for i, f in ipairs(POOL_FIELDS) do
    O[f] = v[i]
    if f == 'accountId' or f == 'inboundPolicy' then P[f] = v[i] else P[f] = tonumber(v[i]) end
  end
  return true
end

-- Whole numbers as plain decimals. Formatting a double costs more than the Redis command
-- it feeds, so a field that did not change is passed on as the string it was loaded as.
local function int(n) return string.format('%d', n) end
local function str(f)
  local v = P[f]
  if v == nil then return nil end
  local o = O and O[f]
  if o and tonumber(o) == v then return o end
  return int(v)
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

-- The R1 snapshot as JSON, written by hand: cheaper than building a table for cjson, and
-- every value is a whole number or the account id (letters, digits and "_ . @ : -" only,
-- as src/domain/ids.ts admits: nothing JSON would escape).
local function snapshot()
  return '{"t":"balance","accountId":"' .. P.accountId .. '","balance":' .. str('balance') ..
    ',"reserved":' .. str('reserved') .. ',"available":' .. int(P.balance - P.reserved) ..
    ',"monthlyMinutes":' .. str('monthly') .. ',"pendingMonthlyMinutes":' .. (str('pendingMonthly') or 'null') ..
    ',"usedThisCycle":' .. str('used') .. ',"overageThisCycle":' .. str('overage') ..
    ',"activeCalls":' .. str('active') .. ',"cycleStart":' .. str('cycleStart') ..
    ',"cycleEnd":' .. str('cycleEnd') .. ',"version":' .. str('version') .. '}'
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

-- Issue #8: how many open authorizations each staff member holds, kept in the auths hash
-- under "req:#<staffId>" ("#" never occurs in a staffId, so it never meets a
-- "req:<staffId>:<requestId>" field). create-authorization counts up; every script that
-- removes an authorization calls this. Emergency ones (em) are not counted (R17).
local function staff_auth_gone(a)
  if a.em then return end
  local f = 'req:#' .. a.s
  if redis.call('HINCRBY', AUTHS, f, -1) <= 0 then redis.call('HDEL', AUTHS, f) end
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
      staff_auth_gone(a)
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
  local args = { 'HSET', POOL }
  for _, f in ipairs(STATE_FIELDS) do
    local v = P[f]
    if v ~= nil and not (O and O[f] and tonumber(O[f]) == v) then
      args[#args + 1] = f
      args[#args + 1] = int(v)
    end
  end
  if P.pendingMonthly and not (O and O.pendingMonthly and tonumber(O.pendingMonthly) == P.pendingMonthly) then
    args[#args + 1] = 'pendingMonthly'
    args[#args + 1] = int(P.pendingMonthly)
  end
  redis.call(unpack(args))
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


-- Issue #8: releases every open authorization of a staff member (their sockets are all
-- gone, or they were removed). Nothing to look through when their count is 0 (the usual
-- case); otherwise the account's open authorizations are. Returns how many were released.
local function release_staff_auths(staffId)
  local f = 'req:#' .. staffId
  if not redis.call('HGET', AUTHS, f) then return 0 end
  local n = 0
  for _, id in ipairs(redis.call('ZRANGE', AUTHEXP, 0, -1)) do
    local raw = redis.call('HGET', AUTHS, id)
    if raw then
      local a = cjson.decode(raw)
      if a.s == staffId then
        P.reserved = P.reserved - a.r
        redis.call('HDEL', AUTHS, id, 'req:' .. a.s .. ':' .. a.q)
        redis.call('ZREM', AUTHEXP, id)
        n = n + 1
        changed = true
      end
    end
  end
  redis.call('HDEL', AUTHS, f)
  return n
end
