--[[
  create-authorization-4.lua — a softphone asks before dialling (R2): check and reserve,
  returning an authorizationId to pass to Twilio as a custom parameter. Idempotent per
  (staffId, requestId) while the authorization is unbound. Unbound authorizations expire
  and their reservation is released by the sweep in lib/auths.lua.
  KEYS[1..4], ARGV[1..3]: see lib/prologue.lua
  ARGV[4] new authorizationId   ARGV[5] staffId   ARGV[6] requestId   ARGV[7] to
  ARGV[8] reserve minutes       ARGV[9] ttl (ms)
  ARGV[10] max open authorizations per staff member ("" = no cap)
  ARGV[11] "emergency" (R17: authorized without reserving, outside the cap) or ""
  Returns: {1, authorizationId, expiresAt, snapshotJson} reserved;
           {2, authorizationId, expiresAt} repeated request, same answer;
           {0, "no_minutes" | "too_many_open_authorizations"} denied, nothing reserved;
           -1 / -100 as in lib/prologue.lua.
]]
--!include prologue
local early = prologue()
if early then return early end
local reqField = 'req:' .. ARGV[5] .. ':' .. ARGV[6]
local existing = redis.call('HGET', AUTHS, reqField)
if existing then
  local raw = redis.call('HGET', AUTHS, existing)
  if raw then
    local a = cjson.decode(raw)
    finish()
    return { 2, existing, a.e }
  end
end
-- R17 (issue #8): an emergency number is authorized whatever the pool holds, reserving nothing.
local emergency = ARGV[11] == 'emergency'
local reserve = tonumber(ARGV[8])
if emergency then reserve = 0 end
-- Issue #8: no staff member can drain the shared pool. Counted and decided here, in the
-- same script that reserves, so concurrent requests on any instance cannot overshoot.
local cap = tonumber(ARGV[10])
if not emergency and cap and tonumber(redis.call('HGET', AUTHS, 'req:#' .. ARGV[5]) or '0') >= cap then
  finish()
  return { 0, 'too_many_open_authorizations' }
end
-- An emergency authorization reserves nothing (reserve is 0 then), so it always succeeds.
if not try_reserve(reserve, emergency) then
  finish()
  return { 0, 'no_minutes' }
end
local expiresAt = NOW + tonumber(ARGV[9])
redis.call('HSET', AUTHS, ARGV[4], cjson.encode({ r = reserve, e = expiresAt, s = ARGV[5], q = ARGV[6], t = ARGV[7],
  em = emergency and 1 or nil }), reqField, ARGV[4])
redis.call('ZADD', AUTHEXP, expiresAt, ARGV[4])
if not emergency then redis.call('HINCRBY', AUTHS, 'req:#' .. ARGV[5], 1) end
changed = true
return { 1, ARGV[4], expiresAt, finish() }
