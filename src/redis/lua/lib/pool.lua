--[[
  lib/pool.lua — the account's pool hash: loading it, numbers as Redis wants them, the
  plan/add-on allowance, the R1 snapshot, call events. Included (--!include pool) by every
  script that reads or changes a pool; it names only what it uses:
    KEYS[1] pool hash       <prefix>:{acc}:pool
    ARGV[1] now (ms since epoch; the caller's clock, so tests control time)
    ARGV[2] events channel  <prefix>:{acc}:events     (sharded pub/sub, same slot as the keys)
]]
-- Per-run state. The libraries are defined once per Redis server (a Redis Function
-- library, src/redis/function-library.ts) and outlive each run, so every run starts with
-- pool_begin(), which the library's loader calls before the script's own code.
local NOW            -- now, as a number
-- The same instant as the caller wrote it, for redis.call: Redis 7.0 turns every number
-- passed to redis.call into a string with printf("%.17g"), dearer than the command it feeds.
local NOW_S
local CHANNEL
local POOL
local P              -- the pool, loaded by load_pool()
local O              -- the pool's fields as loaded (strings, by POOL_FIELD position): unchanged ones are never re-written
local L              -- the same as numbers (nil where not one): "unchanged" is P[f] == L[POOL_FIELD[f]]
local changed
local function pool_begin()
  NOW, NOW_S, CHANNEL, POOL = ARGV[1] + 0, ARGV[1], ARGV[2], KEYS[1] -- + 0: see stored_num() below
  P, O, L, changed = nil, nil, nil, false
end

-- Written back by finish(), when they changed (the pending fields are handled on their own).
local STATE_FIELDS = { 'balance', 'reserved', 'monthly', 'cycleIndex', 'cycleStart', 'cycleEnd', 'used',
  'overage', 'active', 'version', 'plan', 'addon' }

-- Every script that touches a pool runs this, so it is written for speed: one HMGET with
-- the field names as constants, and tables built by constructors (sized once) rather than
-- by a loop of inserts and tonumber()s (that loop cost more than the HMGET itself).
-- Fields few runs need are left to those that do, each field costing HMGET a search of
-- the hash (a whole one when absent, as the alert fields usually are): the billing anchor
-- (lib/cycles.lua, when a reset is due) and the alert fields (lib/alerts.lua, when the
-- balance moved).
-- Those searches are cheap only in a hash table. Redis keeps a small hash as a listpack,
-- searched field by field, and the pool holds 20–50 fields (closed cycles add up to 24):
-- under callgrind, lpFind was 7% of every script's instructions (BENCHMARKS.md, session
-- 20). A value longer than hash-max-listpack-value (64 bytes by default) makes Redis keep
-- the hash as a hash table for good, so the pool is given one, the first time a script
-- loads it: a few hundred bytes more per account. A call's hash gets one when it opens
-- (authorize-call-7.lua): the record of an answered leg is over 64 bytes anyway, so a
-- settled call's hash was a hash table already; now it is one for its whole life.
local HASH_TABLE_LAYOUT = 'hash table: a value over 64 bytes keeps this hash out of a listpack (lib/pool.lua)'

-- A number stored as a string (a missing field: nil). Not tonumber(): Lua 5.1's converts a
-- string twice (lua_isnumber, then lua_tonumber), each time through strtod, whose exact
-- path a 13-digit instant takes — under callgrind, 6% of the scripts' instructions.
-- Arithmetic converts once. Only for fields the scripts themselves wrote as numbers: a
-- string that is not one raises an error here, where tonumber() would give nil.
local function stored_num(s)
  if s then return s + 0 end
  return nil
end

-- The fields load_pool reads, in the order of its HMGET, and each one's position there. O is
-- that reply itself and L an array in the same order: a table keyed by name costs a hash
-- insert per field, built on every run, and under callgrind building three of them cost as
-- much as the HMGET (BENCHMARKS.md, session 21).
local POOL_FIELDS = { 'accountId', 'balance', 'reserved', 'monthly', 'pendingMonthly', 'cycleIndex', 'cycleStart',
  'cycleEnd', 'used', 'overage', 'active', 'version', 'inboundPolicy', 'plan', 'addon', 'pendingPlan', 'addonEnding',
  'layout' }
local POOL_FIELD = {}
for i = 1, #POOL_FIELDS do POOL_FIELD[POOL_FIELDS[i]] = i end -- no ipairs while a library loads

local function load_pool()
  local v = redis.call('HMGET', POOL, unpack(POOL_FIELDS))
  if not v[1] then return false end
  if not v[18] then redis.call('HSET', POOL, 'layout', HASH_TABLE_LAYOUT) end
  O = v
  L = { false, stored_num(v[2]), stored_num(v[3]), stored_num(v[4]), stored_num(v[5]), stored_num(v[6]),
    stored_num(v[7]), stored_num(v[8]), stored_num(v[9]), stored_num(v[10]), stored_num(v[11]), stored_num(v[12]),
    false, stored_num(v[14]), stored_num(v[15]), stored_num(v[16]), stored_num(v[17]) }
  P = { accountId = v[1], balance = L[2], reserved = L[3], monthly = L[4], pendingMonthly = L[5],
    cycleIndex = L[6], cycleStart = L[7], cycleEnd = L[8], used = L[9], overage = L[10], active = L[11],
    version = L[12], inboundPolicy = v[13], plan = L[14], addon = L[15], pendingPlan = L[16],
    addonEnding = L[17] }
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
  local i = POOL_FIELD[f]
  if L and L[i] == v then return O[i] end
  return int(v)
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
    local i = POOL_FIELD[f]
    if v ~= nil and not (L and L[i] == v) then
      args[#args + 1] = f
      args[#args + 1] = int(v)
    elseif v == nil and O and O[i] then
      gone[#gone + 1] = f
    end
  end
  if O and O[POOL_FIELD.pendingMonthly] then gone[#gone + 1] = 'pendingMonthly' end
  if #gone > 0 then redis.call('HDEL', POOL, unpack(gone)) end
end

-- R2's check-and-reserve, the one path for every caller (a call placed by voice or video,
-- a softphone's authorization): reserves `minutes` when the pool has them available, or
-- regardless when `mayOverdraw` (R3: a call already connected is metered, never refused).
-- Returns whether it reserved.
local function try_reserve(minutes, mayOverdraw)
  if P.balance - P.reserved < minutes and not mayOverdraw then return false end
  P.reserved = P.reserved + minutes
  changed = true
  return true
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

local function publish_call_event(fields)
  fields.t = 'call'
  fields.accountId = P.accountId
  fields.version = P.version
  redis.call('SPUBLISH', CHANNEL, cjson.encode(fields))
end

-- What a call event names of the pool (its account and version), for a script that
-- publishes one without loading the pool (record-call-event-8.lua's light signals). P is
-- then these two alone: nothing is changed, so finish() writes nothing.
local function load_pool_ids()
  local v = redis.call('HMGET', POOL, 'accountId', 'version')
  P = { accountId = v[1], version = stored_num(v[2]) }
end
