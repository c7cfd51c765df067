--[[
  record-call-event-7.lua — one Twilio signal about a metered call: a status callback of
  the parent leg or of a dialled (child) leg, or the <Dial action> request. Records it
  idempotently and, when the call is final (R5), releases the reservation, debits
  min(billed, balance), books the rest as overage, appends the ledger entry, bumps
  version and publishes — all in this one script, exactly once per call.

  Final when: the <Dial action> arrived (billed: its answered leg), or the parent's
  terminal status arrived and no dialled leg is unfinished — i.e. every known leg is
  terminal and either one of them answered, or as many legs as the <Dial> had nouns
  reported, or the parent never connected. A call with no <Dial> bills its own duration.

  KEYS[1..4], ARGV[1..3]: see pool-common.lua
  KEYS[5] call hash   KEYS[6] active calls zset   KEYS[7] ended calls zset
  ARGV[4] parent CallSid   ARGV[5] kind: "parent" | "child" | "action"
  ARGV[6] CallSid of the leg the signal is about (the parent's own for parent/action)
  ARGV[7] SequenceNumber or ""   ARGV[8] status (CallStatus, or DialCallStatus for action)
  ARGV[9] duration seconds or ""  ARGV[10] billed minutes for that duration or "" (R4,
  computed by domain/billing.ts)  ARGV[11] retention of ended calls (ms)
  ARGV[12] DialCallSid or ""
  Returns: {1, billedMinutes, billableSeconds, debitedMinutes, overageMinutes, snapshotJson}
             the call became final now;
           {2} recorded, not final;   {3} parent ended, waiting for dialled legs (R15 next);
           {4} duplicate signal (already recorded);   {5} call already final, signal late;
           {6} signal about a call that was denied;   {-2} no such call in this account;
           -1 / -100 as in pool-common.lua.
]]
local early = prologue()
if early then return early end
local CALL, ACTIVE, ENDED = KEYS[5], KEYS[6], KEYS[7]
local callSid, kind, legSid, seq, status = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local seconds, minutes = tonumber(ARGV[9]), tonumber(ARGV[10])
local TERMINAL = { completed = true, busy = true, failed = true, ['no-answer'] = true, canceled = true }

local state = redis.call('HGET', CALL, 'state')
if not state then finish() return { -2 } end
if state == 'denied' then finish() return { 6 } end

-- Idempotency on (CallSid, SequenceNumber); signals without one on their status.
local seen
if kind == 'action' then seen = 'seen:action'
elseif seq ~= '' then seen = 'seen:' .. legSid .. ':' .. seq
else seen = 'seen:' .. legSid .. ':' .. kind .. ':' .. status end
if redis.call('HSETNX', CALL, seen, 1) == 0 then finish() return { 4 } end
if state == 'ended' then finish() return { 5 } end

local answeredNow = false
if kind == 'action' then
  redis.call('HSET', CALL, 'actionStatus', status, 'actionSeconds', seconds or 0,
    'actionMinutes', minutes or 0, 'dialCallSid', ARGV[12])
elseif kind == 'child' then
  local field = 'leg:' .. legSid
  local raw = redis.call('HGET', CALL, field)
  local leg
  if raw then
    leg = cjson.decode(raw)
  else
    leg = { q = -1, t = 0, s = '' }
    redis.call('HINCRBY', CALL, 'legsKnown', 1)
    redis.call('HINCRBY', CALL, 'legsOpen', 1)
    redis.call('HSET', CALL, 'legList', (redis.call('HGET', CALL, 'legList') or '') .. legSid .. ',')
  end
  -- A leg's terminal status is final for that leg; an older progress event arriving
  -- after it changes nothing (no resurrection).
  if leg.t == 0 then
    if TERMINAL[status] then
      leg.t, leg.s, leg.d, leg.m = 1, status, seconds or 0, minutes or 0
      redis.call('HINCRBY', CALL, 'legsOpen', -1)
    else
      local q = tonumber(seq) or leg.q
      if q >= leg.q then leg.s, leg.q = status, q end
      if status == 'in-progress' then answeredNow = true end
    end
    redis.call('HSET', CALL, field, cjson.encode(leg))
  end
else
  if TERMINAL[status] then
    redis.call('HSET', CALL, 'parentTerminal', 1, 'parentStatus', status,
      'parentSeconds', seconds or 0, 'parentMinutes', minutes or 0)
  elseif status == 'in-progress' and redis.call('HGET', CALL, 'expectedLegs') == '0' then
    answeredNow = true
  end
end

local c = redis.call('HMGET', CALL, 'actionStatus', 'actionSeconds', 'actionMinutes', 'parentTerminal',
  'parentStatus', 'parentSeconds', 'parentMinutes', 'expectedLegs', 'legsKnown', 'legsOpen', 'legList',
  'reservedMinutes', 'answeredAt', 'direction', 'from', 'to', 'staffId')

-- One "call started" event per call, whichever comes first: the answer, or a Media
-- Stream start (media-stream-2.lua shares the liveAt flag).
local function publish_started()
  if not answeredNow or c[13] then return end
  redis.call('HSET', CALL, 'answeredAt', NOW)
  if redis.call('HSETNX', CALL, 'liveAt', NOW) == 1 then
    publish_call_event({ event = 'started', callSid = callSid, direction = c[14], from = c[15], to = c[16],
      staffId = c[17], at = NOW })
  end
end

local final, billSec, billMin = false, 0, 0
if c[1] then
  final = true
  if c[1] == 'completed' or c[1] == 'answered' then billSec, billMin = tonumber(c[2]), tonumber(c[3]) end
elseif c[4] then
  local expected, known, open = tonumber(c[8]), tonumber(c[9]), tonumber(c[10])
  if expected == 0 then
    final = true
    if c[5] == 'completed' then billSec, billMin = tonumber(c[6]), tonumber(c[7]) end
  elseif open == 0 then
    local answered = false
    for sid in string.gmatch(c[11] or '', '([^,]+)') do
      local leg = cjson.decode(redis.call('HGET', CALL, 'leg:' .. sid))
      if leg.s == 'completed' then
        answered = true
        billSec, billMin = billSec + leg.d, billMin + leg.m
      end
    end
    final = answered or known >= expected or c[5] ~= 'completed'
  end
end

if not final then
  finish()
  publish_started()
  if c[4] then
    redis.call('HSETNX', CALL, 'pendingSince', NOW)
    return { 3 }
  end
  return { 2 }
end

-- R17: an emergency call is never debited (issue #8); its ledger entry says so.
local emergency = redis.call('HGET', CALL, 'emergency') == 'true'
if emergency then billMin = 0 end
P.reserved = P.reserved - tonumber(c[12])
P.active = P.active - 1
local debit = math.min(billMin, P.balance)
local over = billMin - debit
P.balance = P.balance - debit
P.overage = P.overage + over
P.used = P.used + billMin
local extra = { 'billedMinutes', billMin, 'overageMinutes', over, 'billableSeconds', billSec }
if emergency then extra[#extra + 1] = 'emergency'; extra[#extra + 1] = 'true' end
ledger('call_debit', -debit, callSid, extra)
redis.call('HSET', CALL, 'state', 'ended', 'endedAt', NOW, 'billableSeconds', billSec,
  'billedMinutes', billMin, 'debitedMinutes', debit, 'overageMinutes', over)
redis.call('ZREM', ACTIVE, callSid)
local retention = tonumber(ARGV[11])
redis.call('ZADD', ENDED, NOW, callSid)
-- Trimming the history now and then is enough (the call hashes expire on their own).
if NOW % 32 == 0 then redis.call('ZREMRANGEBYSCORE', ENDED, '-inf', '(' .. (NOW - retention)) end
redis.call('PEXPIRE', CALL, retention)
changed = true
local snap = finish()
publish_started()
publish_call_event({ event = 'ended', callSid = callSid, direction = c[14], from = c[15], to = c[16],
  staffId = c[17], billableSeconds = billSec, billedMinutes = billMin, debitedMinutes = debit,
  overageMinutes = over, at = NOW })
return { 1, billMin, billSec, debit, over, snap }
