--[[
  end-addon-6.lua — R10: ends a recurring add-on. Its minutes were paid for this cycle, so
  they stay until the next reset, which takes them out of the allowance (addonEnding,
  applied by the reset (lib/cycles.lua) together with a pending plan cut); its charge line recurs on
  no bill of a cycle starting at or after that reset (endsAt = the end of this cycle).
  Both the purchase record and its charge line are marked, so the statement and the
  allowance are changed by the same script.
  A due reset is applied first, so "this cycle" is always the cycle containing now.
  KEYS[1..4], ARGV[1..3]: see lib/prologue.lua
  KEYS[5] purchases hash (purchaseId → JSON)   KEYS[6] charges (zset of JSON lines by time)
  ARGV[4] purchaseId
  Returns:
    {1, purchaseJson}  ended now (the record with endedAt and endsAt)
    {2, purchaseJson}  it had been ended before: the record as it was, nothing written
    {-30} NOT_FOUND    no such purchase in this account
    {-31} NOT_ADDON    a one_time purchase: nothing recurs, nothing to end
    -1 / -100 as in lib/prologue.lua.
]]
--!include prologue
local early = prologue()
if early then return early end

local raw = redis.call('HGET', KEYS[5], ARGV[4])
if not raw then
  finish()
  return { -30 }
end
local rec = cjson.decode(raw)
if rec.kind ~= 'addon' then
  finish()
  return { -31 }
end
if rec.endsAt then
  finish()
  return { 2, raw }
end

rec.endedAt = NOW
rec.endsAt = P.cycleEnd
-- Capped by the add-ons the pool knows: a pool from before plan and add-ons were kept
-- apart counts older add-ons as plan, and a cycle never gets a negative add-on part.
P.addonEnding = math.min(P.addon, (P.addonEnding or 0) + rec.minutes)
changed = true

local at = int(rec.createdAt)
for _, line in ipairs(redis.call('ZRANGEBYSCORE', KEYS[6], at, at)) do
  local c = cjson.decode(line)
  if c.purchaseId == rec.purchaseId then
    c.endedAt, c.endsAt = rec.endedAt, rec.endsAt
    redis.call('ZREM', KEYS[6], line)
    redis.call('ZADD', KEYS[6], at, cjson.encode(c))
  end
end
local recJson = cjson.encode(rec)
redis.call('HSET', KEYS[5], ARGV[4], recJson)
finish()
return { 1, recJson }
