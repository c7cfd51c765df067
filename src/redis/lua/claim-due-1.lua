--[[
  claim-due-1.lua — hands out work from a global "due" sorted set to one gateway instance
  for a lease: every member whose score (a due time, ms) is ≤ now is moved to now + lease
  and returned. Whoever got it does the work and then re-scores or removes it; if that
  instance dies, the member is due again when the lease ends, so no work is lost and no
  two instances hold the same member at once. Used for the cycle-reset schedule
  (accountId by cycleEnd) and the receipt hints ("accountId purchaseId" by next attempt).
  Not a pool script: this key is in no account's slot.
  KEYS[1] the due sorted set
  ARGV[1] now (ms)   ARGV[2] lease (ms)   ARGV[3] most members to hand out
  Returns: the claimed members (possibly none).
]]
local NOW = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', NOW, 'LIMIT', 0, tonumber(ARGV[3]))
local leaseEnd = NOW + tonumber(ARGV[2])
for _, m in ipairs(due) do
  redis.call('ZADD', KEYS[1], leaseEnd, m)
end
return due
