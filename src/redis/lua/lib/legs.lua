--[[
  lib/legs.lua — what record-call-event-8.lua knows of Twilio's statuses and of a call's
  dialled legs, apart from any one run: constants and pure functions, kept in a library so
  that Redis defines them once per server rather than on every signal (src/redis/
  function-library.ts). No KEYS, no ARGV, no per-run state.
  A leg, as the script stores it (JSON in the call hash under "leg:<sid>"): t = 1 once
  terminal, s its status, d its duration (s), i = 1 while a completed leg's duration is
  missing, e its terminal Timestamp (ms), ai its answer's Timestamp (ms).
]]

-- Statuses that end a leg or a call, and those Twilio documents for a call and for <Dial>.
local TERMINAL = { completed = true, busy = true, failed = true, ['no-answer'] = true, canceled = true }
local CALL_STATUS = { queued = true, initiated = true, ringing = true, ['in-progress'] = true, completed = true,
  busy = true, failed = true, ['no-answer'] = true, canceled = true }
local DIAL_STATUS = { completed = true, answered = true, busy = true, failed = true, ['no-answer'] = true,
  canceled = true }

local function completed(leg) return leg.t == 1 and leg.s == 'completed' end
local function num(v) if v == nil or v == cjson.null then return nil end return v end
-- Only one leg of a <Dial> is bridged. Without the action naming it, it is the answered
-- leg that talked longest (another device that answered too was dropped at once); legs
-- never add up.
local function longest(legs)
  local best
  for _, leg in ipairs(legs) do
    if completed(leg) and leg.i ~= 1 and (not best or leg.d > best.d) then best = leg end
  end
  return best
end
-- A leg's end instant (R16): its terminal callback's Timestamp, else its answer's
-- Timestamp plus its talk time; nil when neither is known.
local function leg_end(leg, seconds)
  if not leg then return nil end
  local e, ai = num(leg.e), num(leg.ai)
  if e then return e end
  if ai and seconds then return ai + seconds * 1000 end
  return nil
end
