--[[
  release-lease-1.lua — lets go of a member of a global due set (claimed with
  claim-due-1.lua) only if it still holds the lease score its claimer gave it: removed, or
  re-scored for later work (the archive's next trim). Anyone who made it due again
  meanwhile (ZADD LT: new work arrived while it was leased) changed the score, so the
  member stays as they left it and the new work is not lost. Lease scores end in .5 ms and
  due times are whole ms, so the two never coincide.
  KEYS[1] the due sorted set
  ARGV[1] member   ARGV[2] the lease score it was claimed with
  ARGV[3] a score to keep it at instead of removing it, or ""
  Returns: {1} released (removed or re-scored);  {0} kept as it was (due again, or gone).
]]
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  if ARGV[3] ~= '' then
    redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  else
    redis.call('ZREM', KEYS[1], ARGV[1])
  end
  return { 1 }
end
return { 0 }
