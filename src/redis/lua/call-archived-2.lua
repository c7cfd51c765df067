--[[
  call-archived-2.lua — a settled call's record is in PostgreSQL (R19): it leaves the
  ended-calls set (GET …/calls lists it from the books from now on) and its hash is kept
  only until CALL_REDIS_RETENTION_SECONDS after it settled, for late signals and quick
  look-ups, then expires. A call not "ended" (still open, or unsettled) is left as it is.
  Not a pool script: nothing of the pool changes.
  KEYS[1] call hash   KEYS[2] ended calls zset
  ARGV[1] CallSid   ARGV[2] how long the hash may stay (ms, at least 1)
  Returns: {1} done;  {0} no such ended call (nothing written).
]]
if redis.call('HGET', KEYS[1], 'state') ~= 'ended' then return { 0 } end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(ARGV[2])))
return { 1 }
