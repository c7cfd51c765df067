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
  'cycleStart', 'cycleEnd', 'used', 'overage', 'active', 'version', 'anchor', 'inboundPolicy',
  'plan', 'addon', 'pendingPlan', 'addonEnding', 'alertCfg', 'alertsFired' }
-- Written back by finish(), when they changed (the pending fields are handled on their own).
local STATE_FIELDS = { 'balance', 'reserved', 'monthly', 'cycleIndex', 'cycleStart', 'cycleEnd', 'used',
  'overage', 'active', 'version', 'plan', 'addon' }

local function load_pool()
  local v = redis.call('HMGET', POOL, unpack(POOL_FIELDS))
  if not v[1] then return false end
  P, O = {}, {}
  for i, f in ipairs(POOL_FIELDS) do
    O[f] = v[i]
    if f == 'accountId' or f == 'inboundPolicy' or f == 'alertCfg' or f == 'alertsFired' then P[f] = v[i]
    else P[f] = tonumber(v[i]) end
  end
  -- A pool written before plan and add-ons were kept apart counts its allowance as plan.
  if not P.plan then P.plan, P.addon, P.pendingPlan = P.monthly, 0, P.pendingMonthly end
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

-- Plan and add-ons (R9, R10). The pool keeps `plan` and `addon` (the recurring add-ons
-- bought and not yet gone) apart; `monthly` is always their sum, for whatever reads it.
-- Pending until the next reset: `pendingPlan` (a plan cut) and `addonEnding` (minutes of
-- ended add-ons, which stay this cycle because they were paid for). Each exists in the
-- hash only while something is pending.
local PENDING_FIELDS = { 'pendingPlan', 'addonEnding' }

-- The allowance the next reset applies, or nil when nothing is pending.
local function next_allowance()
  if P.pendingPlan == nil and P.addonEnding == nil then return nil end
  return (P.pendingPlan or P.plan) + P.addon - (P.addonEnding or 0)
end

-- The snapshot's pending figures: the next cycle's allowance and its two parts, each
-- null when it will not change.
local function pending_allowance_json()
  local nxt = next_allowance()
  return ',"pendingMonthlyMinutes":' .. (nxt and int(nxt) or 'null') ..
    ',"pendingPlanMinutes":' .. (P.pendingPlan and int(P.pendingPlan) or 'null') ..
    ',"pendingAddonMinutes":' .. (P.addonEnding and int(P.addon - P.addonEnding) or 'null')
end

-- Called by apply_due_reset: the pending plan cut and the add-on ends leave the
-- allowance together; clearing them in the same script makes that happen once.
local function apply_pending_allowance()
  if P.pendingPlan then P.plan = P.pendingPlan end
  if P.addonEnding then P.addon = math.max(0, P.addon - P.addonEnding) end
  P.pendingPlan, P.addonEnding = nil, nil
  P.monthly = P.plan + P.addon
end

-- finish()'s part for the allowance: monthly re-derived, pending fields written while
-- set and deleted once cleared (also a legacy pendingMonthly, now derived).
local function persist_allowance(args)
  P.monthly = P.plan + P.addon
  local gone = {}
  for _, f in ipairs(PENDING_FIELDS) do
    local v = P[f]
    if v ~= nil and not (O and O[f] and tonumber(O[f]) == v) then
      args[#args + 1] = f
      args[#args + 1] = int(v)
    elseif v == nil and O and O[f] then
      gone[#gone + 1] = f
    end
  end
  if O and O.pendingMonthly then gone[#gone + 1] = 'pendingMonthly' end
  if #gone > 0 then redis.call('HDEL', POOL, unpack(gone)) end
end

-- The R1 snapshot as JSON, written by hand: cheaper than building a table for cjson, and
-- every value is a whole number or the account id (letters, digits and "_ . @ : -" only,
-- as src/domain/ids.ts admits: nothing JSON would escape).
local function snapshot()
  return '{"t":"balance","accountId":"' .. P.accountId .. '","balance":' .. str('balance') ..
    ',"reserved":' .. str('reserved') .. ',"available":' .. int(P.balance - P.reserved) ..
    ',"planMinutes":' .. str('plan') .. ',"addonMinutes":' .. str('addon') ..
    ',"monthlyMinutes":' .. str('monthly') .. pending_allowance_json() ..
    ',"usedThisCycle":' .. str('used') .. ',"overageThisCycle":' .. str('overage') ..
    ',"activeCalls":' .. str('active') .. ',"cycleStart":' .. str('cycleStart') ..
    ',"cycleEnd":' .. str('cycleEnd') .. ',"version":' .. str('version') .. '}'
end

-- Closing records of reset cycles (R16), kept in the pool hash as
-- "cycle:<start ms>" = "<end>:<left>:<used>:<overage>" (left: what the cycle had at its
-- reset, less late debits booked against it since). The newest few are kept.
local CLOSED_CYCLES_KEPT = 24

local function save_closed_cycle(r)
  redis.call('HSET', POOL, 'cycle:' .. int(r.start), int(r['end']) .. ':' .. int(r.left) .. ':' .. int(r.used) .. ':' .. int(r.overage))
end

local function closed_cycles()
  local out = {}
  local flat = redis.call('HGETALL', POOL)
  for i = 1, #flat, 2 do
    local start = string.match(flat[i], '^cycle:(%-?%d+)$')
    if start then
      local e, left, used, over = string.match(flat[i + 1], '^(%-?%d+):(%-?%d+):(%-?%d+):(%-?%d+)$')
      out[#out + 1] = { start = tonumber(start), ['end'] = tonumber(e), left = tonumber(left), used = tonumber(used),
        overage = tonumber(over) }
    end
  end
  return out
end

local function closed_cycle_containing(at)
  for _, r in ipairs(closed_cycles()) do
    if r.start <= at and at < r['end'] then return r end
  end
  return nil
end

-- Called by the reset before the pool moves on: records the ending cycle and, when
-- whole cycles passed with nothing running (no scheduler, no traffic), one record for that
-- gap with the allowance it would have had.
local function close_cycle(newStart)
  save_closed_cycle({ start = P.cycleStart, ['end'] = P.cycleEnd, left = P.balance, used = P.used, overage = P.overage })
  if newStart > P.cycleEnd then
    save_closed_cycle({ start = P.cycleEnd, ['end'] = newStart, left = P.monthly, used = 0, overage = 0 })
  end
  local all = closed_cycles()
  if #all > CLOSED_CYCLES_KEPT then
    table.sort(all, function(a, b) return a.start < b.start end)
    for i = 1, #all - CLOSED_CYCLES_KEPT do redis.call('HDEL', POOL, 'cycle:' .. int(all[i].start)) end
  end
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
  apply_pending_allowance()
  local delta = P.monthly - P.balance
  close_cycle(s)
  local expired = P.balance
  P.balance = P.monthly
  P.used = 0
  P.overage = 0
  P.cycleIndex, P.cycleStart, P.cycleEnd = idx, s, e
  -- expiredMinutes: what the ended cycle had left (no rollover); late debits of that
  -- cycle draw on it (R16).
  ledger('cycle_reset', delta, 'cycle:' .. idx, { 'expiredMinutes', expired, 'planMinutes', int(P.plan), 'addonMinutes', int(P.addon) })
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
-- Low-balance alerts (per account). Thresholds (minutes of balance) come from the pool
-- field alertCfg (JSON {"t":[…],"e":0|1,"w":0|1}, set-alerts-4.lua), by default 10% of the
-- plan and 0. A balance that crosses a threshold downwards (a debit, an adjustment, a
-- reset) raises it once per cycle ("alertsFired" = "<cycleStart>|t,t,…"); a rise above it
-- (a purchase, a raise, a reset) re-arms it. Each alert is kept in the pool hash as
-- "alertbox:<id>" until delivered (e-mail, webhook: src/alerts), published on the
-- account's channel for its sockets, and announced on the global "<prefix>:alerts"
-- channel so a dispatcher queues its delivery.
local function alert_settings()
  if P.alertCfg then
    local c = cjson.decode(P.alertCfg)
    return c.t, c.e, c.w
  end
  local tenth = math.floor((P.plan or P.monthly or 0) / 10)
  if tenth > 0 then return { tenth, 0 }, 1, 1 end
  return { 0 }, 1, 1
end

local function raise_alert(threshold, email, webhook)
  local seq = redis.call('HINCRBY', POOL, 'alertSeq', 1)
  local id = 'al_' .. int(P.cycleStart) .. '_' .. seq
  local level = threshold == 0 and 'exhausted' or 'low'
  local available = P.balance - P.reserved
  redis.call('HSET', POOL, 'alertbox:' .. id, cjson.encode({ id = id, level = level, accountId = P.accountId,
    available = available, threshold = threshold, cycleStart = P.cycleStart, at = NOW,
    email = email == 1, webhook = webhook == 1 }))
  redis.call('SPUBLISH', CHANNEL, '{"t":"alert","accountId":"' .. P.accountId .. '","id":"' .. id .. '","level":"' .. level ..
    '","available":' .. int(available) .. ',"threshold":' .. int(threshold) .. ',"cycleStart":' .. int(P.cycleStart) ..
    ',"at":' .. int(NOW) .. ',"version":' .. int(P.version) .. '}')
  redis.call('PUBLISH', string.match(CHANNEL, '^(.*):{') .. ':alerts', P.accountId .. ' ' .. id)
end

local function check_alerts()
  local before = O and tonumber(O.balance)
  local after = P.balance
  if not before or before == after then return end
  local ts, email, webhook = alert_settings()
  local fc, list = string.match(P.alertsFired or '', '^(%-?%d+)|(.*)$')
  local fired, dirty = {}, tonumber(fc) ~= P.cycleStart
  if not dirty then
    for t in string.gmatch(list, '(%-?%d+)') do fired[tonumber(t)] = true end
  end
  if after > before then
    for t in pairs(fired) do
      if after > t then fired[t] = nil dirty = true end
    end
  else
    for _, t in ipairs(ts) do
      if before > t and after <= t and not fired[t] then
        fired[t] = true
        dirty = true
        raise_alert(t, email, webhook)
      end
    end
  end
  if dirty then
    local out = {}
    for t in pairs(fired) do out[#out + 1] = int(t) end
    redis.call('HSET', POOL, 'alertsFired', int(P.cycleStart) .. '|' .. table.concat(out, ','))
  end
end

local function finish()
  if not changed then return false end
  P.version = P.version + 1
  local args = { 'HSET', POOL }
  persist_allowance(args)
  for _, f in ipairs(STATE_FIELDS) do
    local v = P[f]
    if v ~= nil and not (O and O[f] and tonumber(O[f]) == v) then
      args[#args + 1] = f
      args[#args + 1] = int(v)
    end
  end
  redis.call(unpack(args))
  local snap = snapshot()
  redis.call('SPUBLISH', CHANNEL, snap)
  check_alerts()
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
