--[[
  create-authorization-4.lua — a softphone asks before dialling (R2): check and reserve,
  returning an authorizationId to pass to Twilio as a custom parameter. Idempotent per
  (staffId, requestId) while the authorization is unbound. Unbound authorizations expire
  and their reservation is released by the sweep in lib/auths.lua.
  KEYS[1..4], ARGV[1..3]: see lib/prologue.lua
  ARGV[4] new authorizationId   ARGV[5] staffId   ARGV[6] requestId
  ARGV[7] to (normalized by dial-policy.ts: the only destination the authorization binds, R21)
  ARGV[8] reserve minutes       ARGV[9] ttl (ms)
  ARGV[10] max open authorizations per staff member ("" = no cap)
  ARGV[11] "emergency" (R17, R21: authorized without reserving, counted like any other) or ""
  ARGV[12] the request's own fields, JSON-encoded by the caller: {"s": staffId, "q":
           requestId, "t": to}. The script splices what it decides (reserve, expiry) in
           front: cjson.encode of the whole record cost the script more than two of its
           Redis commands.
  Returns: {1, authorizationId, expiresAt} reserved (the snapshot goes out on the channel only:
             the caller does not need it back);
           {2, authorizationId, expiresAt} repeated request, same answer;
           {0, "no_minutes" | "too_many_open_authorizations"} denied, nothing reserved;
           -1 / -100 as in lib/prologue.lua.
]]
--!include prologue
local early = prologue()
if early then return early end
local reqField, countField = 'req:' .. ARGV[5] .. ':' .. ARGV[6], 'req:#' .. ARGV[5]
-- One read for the repeat check and the staff member's open count (issue #8).
local got = redis.call('HMGET', AUTHS, reqField, countField)
local existing = got[1]
if existing then
  local raw = redis.call('HGET', AUTHS, existing)
  if raw then
    local a = cjson.decode(raw)
    finish()
    return { 2, existing, a.e }
  end
end
-- Issue #8: no staff member can drain the shared pool, nor (issue #16, R21) fill it with
-- authorizations: emergency ones count too. Counted and decided here, in the same script
-- that reserves, so concurrent requests on any instance cannot overshoot. (An emergency
-- *call* needs no authorization: it always connects, authorize-call-7.lua.)
local cap = tonumber(ARGV[10])
local open = tonumber(got[2]) or 0
if cap and open >= cap then
  finish()
  return { 0, 'too_many_open_authorizations' }
end
-- R17: an emergency number is authorized whatever the pool holds, reserving nothing.
local emergency = ARGV[11] == 'emergency'
local reserve = tonumber(ARGV[8])
if emergency then reserve = 0 end
if not try_reserve(reserve, emergency) then
  finish()
  return { 0, 'no_minutes' }
end
local expiresAt = NOW + tonumber(ARGV[9])
-- The record lib/auths.lua reads: {"r","e", then "s","q","t" as the caller encoded them}.
local record = '{"r":' .. int(reserve) .. ',"e":' .. int(expiresAt) .. ',' .. string.sub(ARGV[12], 2)
-- The count as HINCRBY would leave it, in the same write: it was read above.
redis.call('HSET', AUTHS, ARGV[4], record, reqField, ARGV[4], countField, int(open + 1))
redis.call('ZADD', AUTHEXP, int(expiresAt), ARGV[4])
changed = true
finish()
return { 1, ARGV[4], expiresAt }
