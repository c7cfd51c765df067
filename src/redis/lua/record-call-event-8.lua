--[[
  record-call-event-8.lua — one Twilio signal about a metered call: a status callback of
  the parent leg or of a dialled (child) leg, the <Dial action> request, or the end of the
  final grace period (kind "grace"), or the word that Twilio's record of the call, fed in as
  ordinary signals, is complete (kind "complete"); both from the reconciliation job. Records it idempotently
  and, when the call is final (R5), releases the reservation, debits min(billed, balance),
  books the rest as overage, appends the ledger entry, bumps version and publishes — all
  in this one script, exactly once per call.

  Final when (R5, and one identity may ring on several devices, so one <Client> noun may
  produce several dialled legs — the number of legs is never assumed):
    * the <Dial action> arrived with its talk time (billed: DialCallDuration if answered);
    * the parent is terminal, a dialled leg answered and reported its completed duration,
      and no leg known to be answered (its in-progress callback, or the leg a <Dial action>
      without its talk time named) is still open. Only one leg of a <Dial> is bridged:
      the one the action named, else the answered leg that talked longest (another device
      that answered too was dropped); legs never add up;
    * the parent is terminal, every dialled leg that reported is terminal, and the final
      grace has passed since the parent ended (kind "grace") or Twilio's complete record
      listed every leg (kind "complete"): nobody answered;
    * the parent never connected (busy, failed, no-answer, canceled) and no leg is known
      to have answered;
    * a call with no <Dial> (video): its own completed duration.
  A completed leg or <Dial action> without a duration, or a signal with a status Twilio
  does not document, is recorded and left for another signal or reconciliation (R14).

  Cycle attribution (R16): the call's end instant is the end of its bridged leg — the
  Timestamp of its terminal callback, else (a <Dial action> carries none) the Timestamp of
  its in-progress callback plus its talk time — else its parent's, else now (clamped to
  [placed, now]). If that instant lies in a cycle already reset, the minutes are booked
  against that cycle's closing record (pool field "cycle:<start>", written by the reset in
  lib/cycles.lua): they consume what it had left at its reset, the rest is its overage;
  the current balance and usage are untouched.

  A call whose hold was released by release-hold-7.lua ("unsettled") has no reservation
  and no activeCalls count left: settling it only debits.

  KEYS[1..4], ARGV[1..3]: see lib/prologue.lua
  KEYS[5] call hash   KEYS[6] active calls zset   KEYS[7] ended calls zset
  KEYS[8] the account's checks zset (lib/checks.lua)
  ARGV[4] parent CallSid   ARGV[5] kind: "parent" | "child" | "action" | "grace" | "complete"
  ARGV[6] CallSid of the leg the signal is about (the parent's own for parent/action)
  ARGV[7] SequenceNumber or ""   ARGV[8] status (CallStatus, or DialCallStatus for action)
  ARGV[9] duration seconds or ""  ARGV[10] billed minutes for that duration or "" (R4,
  computed by domain/billable-minutes.ts)  ARGV[11] unused ("": ended calls leave Redis
  only once archived, calls-archived-n.lua)
  ARGV[12] DialCallSid or ""   ARGV[13] the event's Timestamp (ms) or ""
  ARGV[14] final grace (ms; used by kind "grace")
  ARGV[15] the call's reconciliation check ("callSid", or "participantSid roomSid"):
           queued for the end of the final grace when the signal leaves the call waiting
           (3, 7), dropped when the call becomes final (R15)
  ARGV[16] the staff member a dialled <Client> leg's in-progress signal names (their
           identity answered), or "": an inbound call without a staff member becomes
           theirs — the first to answer is the one Twilio bridges
  Returns: {1, billedMinutes, billableSeconds, debitedMinutes, overageMinutes,
            wasUnsettled (0|1), bookedCycleStart}  the call became final now (its snapshot
            and "ended" event go out on the channel only);
           {2} recorded, not final;   {3, indexAt} parent ended, waiting for dialled legs (R15 next);
           {4} duplicate signal (already recorded);   {5} call already final, signal late;
           {6} signal about a call that was denied;   {7, indexAt} recorded, status not one Twilio
           documents (left for reconciliation);   (indexAt: the due time to write to the
           global reconciliation index, or 0)   {-2} no such call in this account;
           -1 / -100 as in lib/prologue.lua (never for a light signal, below: it does not
           load the pool).
]]
--!include prologue
--!include checks
--!include legs
local CALL, ACTIVE, ENDED, CHECKS = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
-- Checked once the final grace has passed, unless a check is queued earlier (R15).
local function check_after_grace()
  return schedule_check(POOL, CHECKS, ARGV[15], NOW + tonumber(ARGV[14]), false)
end
local callSid, kind, legSid, seq, status = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local seconds, minutes = tonumber(ARGV[9]), tonumber(ARGV[10])
local eventAt = tonumber(ARGV[13])

local state = redis.call('HGET', CALL, 'state')
if not state then return { -2 } end
if state == 'denied' then return { 6 } end

-- A light signal touches the call's hash alone: a late one (the call ended), or a leg's
-- progress — a dialled leg's, or the parent's before its end — while neither the <Dial
-- action> nor the parent's end has come, so that nothing can end the call (an answer
-- publishes "started", naming the pool's account and version alone). Most signals are
-- such, and for them the pool is not loaded nor what is due applied (prologue(): ~40% of
-- such a script, BENCHMARKS.md session 24); the next script that needs the pool applies
-- it. Decided before anything is written: a prologue() that answers CYCLE_DUE is run
-- again, and its first run must leave nothing behind.
-- (The two fields that tell are written by neither a leg's signal nor the parent's
-- progress: read before the signal is recorded, they are as after it.)
local head = state ~= 'ended' and (kind == 'child' or (kind == 'parent' and not TERMINAL[status]))
  and redis.call('HMGET', CALL, 'actionStatus', 'parentTerminal')
local light = state == 'ended' or (head and not head[1] and not head[2]) or false
if not light then
  local early = prologue()
  if early then return early end
end

-- Idempotency on (CallSid, SequenceNumber); signals without one on their status. The
-- grace and completeness checks are not signals: they may run any number of times.
local check = kind == 'grace' or kind == 'complete'
if not check then
  local seen
  if kind == 'action' then seen = 'seen:action:' .. status .. ':' .. (ARGV[9] or '')
  elseif seq ~= '' then seen = 'seen:' .. legSid .. ':' .. seq
  else seen = 'seen:' .. legSid .. ':' .. kind .. ':' .. status .. ':' .. (ARGV[9] or '') end
  if redis.call('HSETNX', CALL, seen, '1') == 0 then finish() return { 4 } end
end
if state == 'ended' then return { 5 } end

if not check and not (kind == 'action' and DIAL_STATUS or CALL_STATUS)[status] then
  redis.call('HSET', CALL, 'unexpected:' .. legSid, status)
  finish()
  return { 7, check_after_grace() }
end

local answeredNow = false
if kind == 'action' then
  if (status == 'completed' or status == 'answered') and not seconds then
    -- Talk time unknown: the legs' callbacks or Twilio's record will tell. Which leg was
    -- bridged is known, though: that leg is the one billed.
    redis.call('HSET', CALL, 'actionIncomplete', status, 'dialCallSid', ARGV[12])
  else
    redis.call('HSET', CALL, 'actionStatus', status, 'actionSeconds', int(seconds or 0),
      'actionMinutes', int(minutes or 0), 'dialCallSid', ARGV[12])
  end
elseif kind == 'child' then
  local field = 'leg:' .. legSid
  local raw = redis.call('HGET', CALL, field)
  local leg
  if raw then
    leg = cjson.decode(raw)
  else
    leg = { q = -1, t = 0, s = '' }
    redis.call('HINCRBY', CALL, 'legsKnown', '1')
    redis.call('HINCRBY', CALL, 'legsOpen', '1')
    redis.call('HSET', CALL, 'legList', (redis.call('HGET', CALL, 'legList') or '') .. legSid .. ',')
  end
  -- A leg's terminal status is final for that leg; an older progress event arriving
  -- after it changes nothing (no resurrection). A completed leg whose duration was
  -- missing (i = 1) takes the first duration that arrives. An answer is remembered
  -- (a = 1) with its Timestamp (ai): a call does not settle while a leg known to be
  -- answered is still open, and the answer dates the call's end when the <Dial action>,
  -- which carries no Timestamp, is the first word of it (R16).
  local write = false
  if status == 'in-progress' and eventAt and not leg.ai then leg.ai, write = eventAt, true end
  if leg.t == 0 then
    if TERMINAL[status] then
      leg.t, leg.s, leg.e = 1, status, eventAt
      if status == 'completed' and not seconds then leg.i, leg.d, leg.m = 1, 0, 0
      else leg.d, leg.m = seconds or 0, minutes or 0 end
      redis.call('HINCRBY', CALL, 'legsOpen', '-1')
    else
      local q = tonumber(seq) or leg.q
      if q >= leg.q then leg.s, leg.q = status, q end
      if status == 'in-progress' then
        leg.a, answeredNow = 1, true
        if ARGV[16] ~= '' and redis.call('HGET', CALL, 'direction') == 'inbound'
            and (redis.call('HGET', CALL, 'staffId') or '') == '' then
          redis.call('HSET', CALL, 'staffId', ARGV[16])
        end
      end
    end
    write = true
  elseif leg.i == 1 and status == 'completed' and seconds then
    leg.i, leg.d, leg.m = nil, seconds, minutes or 0
    if eventAt then leg.e = eventAt end
    write = true
  end
  if write then redis.call('HSET', CALL, field, cjson.encode(leg)) end
elseif kind == 'parent' then
  if TERMINAL[status] then
    if redis.call('HSETNX', CALL, 'parentTerminal', '1') == 1 or redis.call('HGET', CALL, 'parentIncomplete') then
      redis.call('HSET', CALL, 'parentStatus', status, 'parentSeconds', int(seconds or 0), 'parentMinutes', int(minutes or 0),
        'parentEndAt', eventAt and int(eventAt) or NOW_S)
      if status == 'completed' and not seconds then redis.call('HSET', CALL, 'parentIncomplete', '1')
      else redis.call('HDEL', CALL, 'parentIncomplete') end
    end
  elseif status == 'in-progress' and redis.call('HGET', CALL, 'expectedLegs') == '0' then
    answeredNow = true
  end
end

-- One "call started" event per call, whichever comes first: the answer, or a Media
-- Stream start (media-stream-2.lua shares the liveAt flag). `who`: the call's answeredAt,
-- direction, from, to and staffId, in that order.
local function publish_started(who, i)
  if not answeredNow or who[i] then return end
  redis.call('HSET', CALL, 'answeredAt', NOW_S)
  if redis.call('HSETNX', CALL, 'liveAt', NOW_S) == 1 then
    publish_call_event({ event = 'started', callSid = callSid, direction = who[i + 1], from = who[i + 2],
      to = who[i + 3], staffId = who[i + 4], at = NOW })
  end
end

-- A light signal (above): nothing can be final, and the rest of the call is read only if
-- it was answered now (the signals that may end a call read it at once, below).
if light then
  if answeredNow then
    load_pool_ids()
    publish_started(redis.call('HMGET', CALL, 'answeredAt', 'direction', 'from', 'to', 'staffId'), 1)
  end
  return { 2 }
end

local c = redis.call('HMGET', CALL, 'actionStatus', 'actionSeconds', 'actionMinutes', 'parentTerminal',
  'parentStatus', 'parentSeconds', 'parentMinutes', 'expectedLegs', 'legsKnown', 'legsOpen', 'legList',
  'reservedMinutes', 'answeredAt', 'direction', 'from', 'to', 'staffId', 'parentIncomplete', 'parentEndAt',
  'pendingSince', 'createdAt', 'dialCallSid', 'actionIncomplete')

-- Every dialled leg signals told of, decoded, with its sid (read once: nothing below
-- writes a leg).
local legs_read
local function dialled_legs()
  if legs_read then return legs_read end
  local out = {}
  for sid in string.gmatch(c[11] or '', '([^,]+)') do
    local leg = cjson.decode(redis.call('HGET', CALL, 'leg:' .. sid))
    leg.sid = sid
    out[#out + 1] = leg
  end
  legs_read = out
  return out
end

local final, billSec, billMin = false, 0, 0
local endAt = tonumber(c[19])
local named = c[22] ~= nil and c[22] ~= '' and c[22] or nil
if c[1] then
  final = true
  if c[1] == 'completed' or c[1] == 'answered' then
    billSec, billMin = tonumber(c[2]), tonumber(c[3])
    -- The bridged leg's end is the call's end (R16), when its callbacks told it.
    local bridged
    for _, leg in ipairs(dialled_legs()) do
      if named then
        if leg.sid == named then bridged = leg end
      elseif completed(leg) or leg.a == 1 then
        if not bridged or (completed(leg) and (not completed(bridged) or leg.d > bridged.d)) then bridged = leg end
      end
    end
    endAt = leg_end(bridged, billSec) or endAt
  end
elseif c[4] then
  local expected, open = tonumber(c[8]), tonumber(c[10])
  if expected == 0 then
    if not c[18] then
      final = true
      if c[5] == 'completed' then billSec, billMin = tonumber(c[6]), tonumber(c[7]) end
    end
  else
    local legs = dialled_legs()
    local answered, waiting = false, false
    for _, leg in ipairs(legs) do
      if completed(leg) then
        answered = true
        -- A completed leg without its duration: the first duration that arrives tells.
        if leg.i == 1 then waiting = true end
      elseif leg.t == 0 and leg.a == 1 then
        -- Known to be answered and still open: it may be the leg that talked.
        answered, waiting = true, true
      end
    end
    local bridged
    -- A <Dial action> without its talk time named the bridged leg: that leg is billed,
    -- once it reported its duration (unless Twilio's complete record shows no such leg).
    if named and c[23] then
      for _, leg in ipairs(legs) do
        if leg.sid == named and completed(leg) and leg.i ~= 1 then bridged = leg end
      end
      if bridged or kind ~= 'complete' then answered, waiting = true, not bridged end
    end
    if answered then
      if not waiting then
        bridged = bridged or longest(legs)
        final = true
        billSec, billMin = bridged.d, bridged.m
        endAt = leg_end(bridged, bridged.d) or endAt
      end
    elseif c[5] ~= 'completed' then
      -- The parent never connected: no leg can have talked.
      final = true
    elseif open == 0 and (kind == 'complete' or (kind == 'grace' and c[20] and NOW >= tonumber(c[20]) + tonumber(ARGV[14]))) then
      -- Every leg that reported is terminal and none answered: after the grace, or at
      -- once when Twilio's record is complete (every leg is known).
      final = true
    end
  end
end

if not final then
  finish()
  publish_started(c, 13)
  if c[4] then
    redis.call('HSETNX', CALL, 'pendingSince', NOW_S)
    return { 3, check_after_grace() }
  end
  return { 2 }
end

-- R16: which cycle the minutes belong to.
local created = tonumber(c[21]) or NOW
if not endAt or endAt > NOW then endAt = NOW end
if endAt < created then endAt = created end

-- R17: an emergency call is never debited; its ledger entry says so.
local emergency = redis.call('HGET', CALL, 'emergency') == 'true'
if emergency then billMin = 0 end

local held = state == 'unsettled'
if not held then
  P.reserved = P.reserved - tonumber(c[12])
  P.active = P.active - 1
end
local debit, over, bookedIn = 0, 0, P.cycleStart
-- Twilio's voice Timestamps name a whole second: an end in the second the cycle changed
-- is taken to be in the new cycle.
local late = endAt + 1000 <= P.cycleStart and closed_cycle_containing(endAt)
local extra
if late then
  debit = math.min(billMin, late.left)
  over = billMin - debit
  late.left, late.used, late.overage = late.left - debit, late.used + billMin, late.overage + over
  save_closed_cycle(late)
  bookedIn = late.start
  extra = { 'billedMinutes', int(billMin), 'overageMinutes', int(over), 'billableSeconds', int(billSec),
    'debitedMinutes', int(debit), 'cycleStart', int(bookedIn), 'endedAt', int(endAt), 'late', '1' }
else
  debit = math.min(billMin, P.balance)
  over = billMin - debit
  P.balance = P.balance - debit
  P.overage = P.overage + over
  P.used = P.used + billMin
  extra = { 'billedMinutes', int(billMin), 'overageMinutes', int(over), 'billableSeconds', int(billSec),
    'debitedMinutes', int(debit), 'cycleStart', int(bookedIn), 'endedAt', int(endAt) }
end
if emergency then extra[#extra + 1] = 'emergency'; extra[#extra + 1] = 'true' end
-- The call detail record's who and when travel with the entry (R19), so the archive
-- writes the call from the stream alone, without reading the call's hash back.
extra[#extra + 1] = 'cdr'
extra[#extra + 1] = cjson.encode({ direction = c[14], from = c[15], to = c[16], staffId = c[17],
  placedAt = tonumber(c[21]), answeredAt = tonumber(c[13]) or (answeredNow and NOW or nil),
  reservedMinutes = tonumber(c[12]), legs = dialled_legs() })
ledger('call_debit', late and 0 or -debit, callSid, extra)
redis.call('HSET', CALL, 'state', 'ended', 'endedAt', NOW_S, 'billableSeconds', int(billSec),
  'billedMinutes', int(billMin), 'debitedMinutes', int(debit), 'overageMinutes', int(over), 'cycleStart', int(bookedIn),
  'callEndedAt', int(endAt))
redis.call('ZREM', ACTIVE, callSid)
drop_check(CHECKS, ARGV[15])
-- Kept until the archive has it (R19): calls-archived-n.lua then lists it from PostgreSQL
-- and lets the hash expire CALL_REDIS_RETENTION_SECONDS after it settled.
redis.call('ZADD', ENDED, NOW_S, callSid)
changed = true
finish()
publish_started(c, 13)
publish_call_event({ event = 'ended', callSid = callSid, direction = c[14], from = c[15], to = c[16],
  staffId = c[17], billableSeconds = billSec, billedMinutes = billMin, debitedMinutes = debit,
  overageMinutes = over, cycleStart = bookedIn, at = NOW })
return { 1, billMin, billSec, debit, over, held and 1 or 0, bookedIn }
