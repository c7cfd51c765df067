--[[
  authorize-call-7.lua — a call reached /twilio/voice (R2, R7): bind the softphone's
  authorization if it names a live one, otherwise check and reserve. Idempotent per
  CallSid: a repeated webhook gets the first decision.
  KEYS[1..4], ARGV[1..3]: see lib/prologue.lua
  KEYS[5] call hash   KEYS[6] active calls zset   KEYS[7] the account's checks zset (lib/checks.lua)
  ARGV[4] CallSid (or a video ParticipantSid)   ARGV[5] direction ("outbound"|"inbound"|"video")   ARGV[6] from   ARGV[7] to
  ARGV[8] staffId ("" for inbound)   ARGV[9] reserve minutes   ARGV[10] authorizationId or ""
  ARGV[11] dialled legs expected (number of nouns in the <Dial>)   ARGV[12] denial memory (ms)
  ARGV[13] R17 dialling policy: "emergency" (allowed, reserves nothing, never debited: the
           call hash carries emergency=true), "deny" (refused destination) or ""
  ARGV[14] what reconciliation checks should the call's final signal be lost (R15): the
           member ("callSid", or "participantSid roomSid")   ARGV[15] when (ms)
  ARGV[16] the call's normalized destination (R21, issue #16): an authorization is bound
           only if it was issued for the same one (its "t"); any other is left open and
           the call decided as if it carried none ("": binds none)
  Returns: {1, reservedMinutes, indexAt} allowed, reserved now;
           {2, reservedMinutes} repeated webhook for an allowed call;
           {3, reservedMinutes, indexAt} allowed on a bound authorization (no new reservation);
           (indexAt: the due time to write to the global reconciliation index, or 0; the
           snapshot goes out on the channel only: the webhook needs just the decision);
           {0, "no_minutes" | "destination_not_allowed"} denied (also for a repeated
             denied CallSid: the reason it was first denied for);
           -1 / -100 as in lib/prologue.lua.
]]
--!include prologue
--!include checks
local early = prologue()
if early then return early end
local CALL, ACTIVE, CHECKS = KEYS[5], KEYS[6], KEYS[7]
local callSid, direction, staffId = ARGV[4], ARGV[5], ARGV[8]

local prior = redis.call('HMGET', CALL, 'state', 'reservedMinutes')
if prior[1] then
  finish()
  if prior[1] == 'denied' then return { 0, redis.call('HGET', CALL, 'reason') or 'no_minutes' } end
  return { 2, tonumber(prior[2]) }
end

local function open_call(reserved, authId)
  redis.call('HSET', CALL, 'state', 'active', 'callSid', callSid, 'direction', direction,
    'from', ARGV[6], 'to', ARGV[7], 'staffId', staffId, 'reservedMinutes', int(reserved),
    'authorizationId', authId, 'expectedLegs', ARGV[11], 'createdAt', NOW_S,
    'legsKnown', '0', 'legsOpen', '0', 'layout', HASH_TABLE_LAYOUT) -- lib/pool.lua says why
  redis.call('ZADD', ACTIVE, NOW_S, callSid)
  P.active = P.active + 1
  changed = true
  -- Queued in the same script, so no call is ever open without its check (R15).
  return schedule_check(POOL, CHECKS, ARGV[14], tonumber(ARGV[15]), false)
end

-- R17 dialling policy (issue #8): decided before any balance check.
local policy = ARGV[13] or ''
if policy == 'deny' then
  redis.call('HSET', CALL, 'state', 'denied', 'reason', 'destination_not_allowed', 'callSid', callSid,
    'direction', direction, 'from', ARGV[6], 'to', ARGV[7], 'staffId', staffId, 'createdAt', NOW)
  redis.call('PEXPIRE', CALL, tonumber(ARGV[12]))
  finish()
  return { 0, 'destination_not_allowed' }
end
-- The authorization the call binds: this staff member's, issued for this very destination
-- (R21), or none. Unknown, expired, someone else's or another destination's is left as it
-- is, and the call is decided as if it carried none.
local authId, auth = ARGV[10], nil
if authId ~= '' and ARGV[16] ~= '' then
  local raw = redis.call('HGET', AUTHS, authId)
  if raw and string.sub(raw, 1, 1) == '{' then -- a "req:…" index entry is no authorization
    local a = cjson.decode(raw)
    if a.s == staffId and a.t == ARGV[16] then auth = a end
  end
end
if not auth then authId = '' end

if policy == 'emergency' then
  -- Always connects, whatever the pool holds, with or without an authorization, and
  -- reserves nothing (its authorization reserved nothing either: release what it holds).
  if auth then drop_auth(authId, auth, true) end
  local indexAt = open_call(0, authId)
  redis.call('HSET', CALL, 'emergency', 'true')
  finish()
  return { 1, 0, indexAt }
end

if auth then
  -- Used up by its call: the reservation moves to the call, nothing is reserved twice.
  drop_auth(authId, auth, false)
  local indexAt = open_call(auth.r, authId)
  finish()
  return { 3, auth.r, indexAt }
end

local reserve = tonumber(ARGV[9])
-- A video participant is already connected when Twilio reports it: it is metered, never
-- refused (R3, R12).
local mayOverdraw = direction == 'video' or (direction == 'inbound' and P.inboundPolicy ~= 'reject')
if not try_reserve(reserve, mayOverdraw) then
  redis.call('HSET', CALL, 'state', 'denied', 'callSid', callSid, 'direction', direction,
    'from', ARGV[6], 'to', ARGV[7], 'staffId', staffId, 'createdAt', NOW)
  redis.call('PEXPIRE', CALL, tonumber(ARGV[12]))
  finish()
  return { 0, 'no_minutes' }
end
local indexAt = open_call(reserve, '')
finish()
return { 1, reserve, indexAt }
