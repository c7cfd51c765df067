--[[
  claim-checks-2.lua — reconciliation takes an account's due checks for a lease: each
  member due by now is moved to now + lease (should the instance die, it is due again
  then; no two instances hold it at once), and the account's earliest remaining time is
  returned and noted (lib/checks.lua's reconcileAt) for the global index. With max 0 it
  only reads and notes the earliest time (after a pass re-timed what it took).
  KEYS[1] pool hash   KEYS[2] checks zset
  ARGV[1] now (ms)   ARGV[2] lease (ms)   ARGV[3] most members to take
  Returns: {earliest due time or "" when the queue is empty, member...}
]]
local NOW, max = tonumber(ARGV[1]), tonumber(ARGV[3])
local taken = {}
if max > 0 then
  taken = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', NOW, 'LIMIT', 0, max)
  local leaseEnd = NOW + tonumber(ARGV[2])
  for _, m in ipairs(taken) do redis.call('ZADD', KEYS[2], leaseEnd, m) end
end
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local earliest = ''
if first[1] then
  earliest = first[2]
  if redis.call('HEXISTS', KEYS[1], 'accountId') == 1 then redis.call('HSET', KEYS[1], 'reconcileAt', earliest) end
else
  redis.call('HDEL', KEYS[1], 'reconcileAt')
end
local out = { earliest }
for _, m in ipairs(taken) do out[#out + 1] = m end
return out
