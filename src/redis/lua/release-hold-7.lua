--[[
  release-hold-7.lua — the last safety net of R15: a call (or video participant) still
  open MAX_CALL_HOLD_SECONDS after it was placed is longer than Twilio lets any call last
  (a <Dial> ends at its timeLimit, 4 h by default). Its reservation is released and its
  activeCalls count dropped, so a lost final signal never locks an account out; nothing is
  debited on a guess. The call is marked "unsettled": when Twilio's truth arrives later
  (a late signal, a reconciliation), record-call-event-8.lua debits it then, exactly once.
  KEYS[1..4], ARGV[1..3]: see lib/prologue.lua
  KEYS[5] call hash   KEYS[6] active calls zset   KEYS[7] ended calls zset
  ARGV[4] CallSid (or ParticipantSid)   ARGV[5] maximum hold (ms)
  Returns: {1, releasedMinutes, snapshotJson} released now;
           {2, state} nothing to release (the call is "ended", "unsettled" or "denied");
           {3, dueAt} still within its hold (dueAt: when it will not be);
           {-2} no such call; -1 / -100 as in lib/prologue.lua.
]]
--!include prologue
local early = prologue()
if early then return early end
local CALL, ACTIVE, ENDED = KEYS[5], KEYS[6], KEYS[7]
local callSid = ARGV[4]
local c = redis.call('HMGET', CALL, 'state', 'createdAt', 'reservedMinutes', 'direction', 'from', 'to', 'staffId')
if not c[1] then finish() return { -2 } end
if c[1] ~= 'active' then finish() return { 2, c[1] } end
local dueAt = tonumber(c[2]) + tonumber(ARGV[5])
if NOW < dueAt then finish() return { 3, dueAt } end

local released = tonumber(c[3])
P.reserved = P.reserved - released
P.active = P.active - 1
redis.call('HSET', CALL, 'state', 'unsettled', 'reservedMinutes', 0, 'holdReleasedAt', NOW,
  'releasedMinutes', released)
redis.call('ZREM', ACTIVE, callSid)
-- Listed with the finished calls (by this instant) until its truth arrives.
redis.call('ZADD', ENDED, NOW, callSid)
ledger('hold_released', 0, callSid, { 'releasedMinutes', released })
changed = true
local snap = finish()
publish_call_event({ event = 'ended', callSid = callSid, direction = c[4], from = c[5], to = c[6],
  staffId = c[7], unsettled = true, at = NOW })
return { 1, released, snap }
