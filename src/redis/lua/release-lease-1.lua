--[[
  release-lease-1.lua — removes a member of a global due set (claimed with claim-due-1.lua)
  only if it still holds the lease score its claimer gave it. Anyone who made it due again
  meanwhile (ZADD LT: new work arrived while it was leased) changed the score, so the
  member stays and the new work is not lost. Lease scores end in .5 ms and due times are
  whole ms, so the two never coincide.
  KEYS[1] the due sorted set
  ARGV[1] member   ARGV[2] the lease score it was claimed with
  Returns: {1} removed;  {0} kept (due again, or gone).
]]
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return { 1 }
end
return { 0 }
