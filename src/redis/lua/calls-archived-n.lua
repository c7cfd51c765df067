--[[
  calls-archived-n.lua — a batch of one account's settled calls is in PostgreSQL (R19):
  each leaves the ended-calls set (GET …/calls lists it from the books from now on) and its
  hash is kept only until CALL_REDIS_RETENTION_SECONDS after it settled, for late signals
  and quick look-ups, then expires. A call not "ended" (still open, or unsettled) is left
  as it is. One run for the whole batch (the archive's cost per call, issue #17), so its
  key count varies: the "-n" in the name.
  Not a pool script: nothing of the pool changes.
  KEYS[1] ended calls zset   KEYS[2..n+1] the calls' hashes, in the order of ARGV
  ARGV[2i-1] the i-th call's CallSid   ARGV[2i] how long its hash may stay (ms, at least 1)
  Returns: one code per call, in order: {1} done (its CallSid look-up may expire too);
           {0} no such ended call (nothing written for it).
]]
local out = {}
for i = 2, #KEYS do
  local sid, keep = ARGV[2 * i - 3], tonumber(ARGV[2 * i - 2])
  if redis.call('HGET', KEYS[i], 'state') == 'ended' then
    redis.call('ZREM', KEYS[1], sid)
    redis.call('PEXPIRE', KEYS[i], math.max(1, keep))
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
