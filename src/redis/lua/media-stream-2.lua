--[[
  media-stream-2.lua — a Twilio Media Stream of a metered call started or stopped. A start
  marks the call live (one "call started" event per call, shared with the answer signal
  of record-call-event); a stop only notes the time. Neither ever debits: the debit stays
  with R5's signals.
  At most one stream of a call is open at a time (R18): a start holds the call's
  "streamOpen" field (the socket's connection id) until that socket's stop or close, and
  any other socket's start meanwhile is refused. The call hash keeps only the latest
  stream's fields, so however many streams a call sees, its record does not grow.
  KEYS[1] pool hash (read only: the account and version the event carries)   KEYS[2] call hash
  ARGV[1] now   ARGV[2] events channel   ARGV[3] unused ("")
  ARGV[4] "start" | "stop"   ARGV[5] StreamSid ("MZ" + 32 hex, checked by the caller)
  ARGV[6] customParameters (JSON object, bounded by the caller)
  ARGV[7] connection id: the socket this stream arrived on (unique per socket)
  Returns: {1} recorded;  {2} repeated (this socket's start already recorded, or a stop of
           a stream that is not this socket's open one: nothing to do);
           {-2} no such call in this account (or it was denied, or it has ended, for a start);
           {-3} another socket holds the call's open stream (a start only).
]]
--!include pool
local CALL = KEYS[2]
-- Fewer redis.calls (each costs about as much as the Lua around it), but no field read that
-- the path does not need (an absent one costs a search of the whole call hash).
local ev, streamSid, conn = ARGV[4], ARGV[5], ARGV[7]
local start = ev ~= 'stop'
local c = start and redis.call('HMGET', CALL, 'state', 'streamOpen', 'streamEndedAt', 'liveAt')
  or redis.call('HMGET', CALL, 'state', 'streamOpen')
local state, open = c[1], c[2]
if not state or state == 'denied' then return { -2 } end
if not start then
  if open ~= conn then return { 2 } end
  redis.call('HDEL', CALL, 'streamOpen')
  redis.call('HSET', CALL, 'streamEndedAt', ARGV[1])
  return { 1 }
end
if open == conn then return { 2 } end
if open then return { -3 } end
-- A stream is media of a live call; once the call has ended no stream of it is opened.
if state == 'ended' then return { -2 } end
local live = not c[4] -- this start is the first sign the call is live (liveAt, as HSETNX would set it)
if live then
  redis.call('HSET', CALL, 'streamOpen', conn, 'streamSid', streamSid, 'streamStartedAt', ARGV[1], 'liveAt', ARGV[1])
else
  redis.call('HSET', CALL, 'streamOpen', conn, 'streamSid', streamSid, 'streamStartedAt', ARGV[1])
end
if c[3] then redis.call('HDEL', CALL, 'streamEndedAt') end
-- The event carries the account and the version: the pool's, read only for it.
local p = live and redis.call('HMGET', POOL, 'accountId', 'version')
if p and p[1] then
  P = { accountId = p[1], version = tonumber(p[2]) }
  local e = redis.call('HMGET', CALL, 'callSid', 'direction', 'from', 'to', 'staffId')
  publish_call_event({ event = 'started', callSid = e[1], direction = e[2], from = e[3], to = e[4],
    staffId = e[5], streamSid = streamSid, customParameters = cjson.decode(ARGV[6]), at = NOW })
end
return { 1 }
