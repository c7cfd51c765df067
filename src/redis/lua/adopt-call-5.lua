--[[
  adopt-call-5.lua — the audit (R20) found a call Twilio completed that this account's live
  state does not hold at all: its every signal was lost before /twilio/voice was answered
  here, or Redis lost its record (and the ledger entry with it, the books not having it
  either). It is written as a call whose hold was already released ("unsettled": no
  reservation, no activeCalls count — as release-hold-7.lua leaves one), so the very script
  that settles every call, record-call-event-8.lua, settles it next from Twilio's record:
  billed by R4, booked in the cycle it ended in (R16), listed in GET …/calls, exactly once.
  Idempotent by CallSid: a call that exists in any state is left untouched, so a second
  audit, or two at once, adopt it once; a crash between the two scripts leaves an
  "unsettled" call the next audit (or a late signal) settles.
  KEYS[1..4], ARGV[1..3]: see lib/prologue.lua
  KEYS[5] call hash
  ARGV[4] CallSid   ARGV[5] direction ("outbound"|"inbound")   ARGV[6] from   ARGV[7] to
  ARGV[8] staffId or ""   ARGV[9] dialled legs Twilio listed   ARGV[10] when it started (ms,
  Twilio's start_time: the lower bound of its end instant)   ARGV[11] "true" for an
  emergency number (never debited, R17) or ""
  Returns: {1} adopted now;  {2, state} the call exists already (nothing written);
           -1 / -100 as in lib/prologue.lua.
]]
--!include prologue
local early = prologue()
if early then return early end
local CALL = KEYS[5]
local state = redis.call('HGET', CALL, 'state')
if state then finish() return { 2, state } end
redis.call('HSET', CALL, 'state', 'unsettled', 'callSid', ARGV[4], 'direction', ARGV[5],
  'from', ARGV[6], 'to', ARGV[7], 'staffId', ARGV[8], 'reservedMinutes', 0, 'authorizationId', '',
  'expectedLegs', ARGV[9], 'createdAt', ARGV[10], 'legsKnown', 0, 'legsOpen', 0,
  'adoptedAt', NOW, 'adoptedBy', 'audit')
if ARGV[11] == 'true' then redis.call('HSET', CALL, 'emergency', 'true') end
finish()
return { 1 }
