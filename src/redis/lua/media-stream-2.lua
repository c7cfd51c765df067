--[[
  media-stream-2.lua — a Twilio Media Stream of a metered call started or stopped. A start
  marks the call live (one "call started" event per call, shared with the answer signal
  of record-call-event); a stop only notes the time. Neither ever debits: the debit stays
  with R5's signals.
  KEYS[1] pool hash (read only: the account and version the event carries)   KEYS[2] call hash
  ARGV[1] now   ARGV[2] events channel   ARGV[3] unused ("")
  ARGV[4] "start" | "stop"   ARGV[5] StreamSid   ARGV[6] customParameters (JSON object)
  Returns: {1} recorded;  {2} repeated (this stream's start/stop was already recorded);
           {-2} no such call in this account (or it was denied).
]]
local CALL = KEYS[2]
local state = redis.call('HGET', CALL, 'state')
if not state or state == 'denied' then return { -2 } end
local ev, streamSid = ARGV[4], ARGV[5]
if redis.call('HSETNX', CALL, 'stream:' .. streamSid .. ':' .. ev, NOW) == 0 then return { 2 } end
if ev == 'stop' then
  redis.call('HSET', CALL, 'streamEndedAt', NOW)
  return { 1 }
end
redis.call('HSET', CALL, 'streamSid', streamSid, 'streamStartedAt', NOW)
if state ~= 'ended' and redis.call('HSETNX', CALL, 'liveAt', NOW) == 1 and load_pool() then
  local c = redis.call('HMGET', CALL, 'callSid', 'direction', 'from', 'to', 'staffId')
  publish_call_event({ event = 'started', callSid = c[1], direction = c[2], from = c[3], to = c[4],
    staffId = c[5], streamSid = streamSid, customParameters = cjson.decode(ARGV[6]), at = NOW })
end
return { 1 }
