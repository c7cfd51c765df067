--[[
  reconcile-index-1.lua — the global index of accounts with reconciliation checks queued
  (R15; lib/checks.lua keeps the checks in each account's slot). A reconciler leases an
  entry with claim-due-1.lua, given a lease with half a millisecond on it, so a leased
  score can never equal a due time (whole ms). Rules:
    * with the caller's own lease still in place, the entry becomes the account's next
      due time, or goes when there is none;
    * otherwise an entry only ever moves earlier, except that a lease (a score with a
      fraction) gives way to any due time: the account's queue was emptied or re-timed by
      the lease holder, which will not lower it again.
  Not a pool script: this key is in no account's slot.
  KEYS[1] index zset (accountId by next due time)
  ARGV[1] accountId   ARGV[2] due time (ms) or ""   ARGV[3] the caller's lease end or ""
  Returns: 1 written, 0 left as it was.
]]
local cur = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
local due = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
if lease and cur == lease then
  if due then redis.call('ZADD', KEYS[1], due, ARGV[1]) else redis.call('ZREM', KEYS[1], ARGV[1]) end
  return 1
end
if due and (not cur or cur % 1 ~= 0 or due < cur) then
  redis.call('ZADD', KEYS[1], due, ARGV[1])
  return 1
end
return 0
