--[[
  release-claim-1.lua — a directory name (softphone identity or phone number), or the
  periodic audit's lease (redis/audit-lease.ts), is let go, but only while it still points
  at the owner letting it go: a compare-and-delete, so a
  name claimed by someone else in between is never deleted. Not a pool script; one global
  key, so it runs on any cluster slot.
  KEYS[1] the name's directory key   ARGV[1] the owner's value
  Returns: {1} released;  {0} not this owner's (nothing written).
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return { 0 } end
redis.call('DEL', KEYS[1])
return { 1 }
