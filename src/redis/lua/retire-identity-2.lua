--[[
  retire-identity-2.lua — a removed staff member's softphone identity is let go (issue #8)
  and held for their account (issue #16) for as long as a Voice SDK token minted for it
  may still be valid: nobody dials it, and no other account claims it (claim-identity-2.lua),
  until the marker expires or the same account claims it again. The identity is deleted
  only while it still points at this member (a compare-and-delete, as release-claim-1.lua).
  KEYS[1] the identity's directory key   KEYS[2] its removal marker (same slot)
  ARGV[1] the member's value "accountId staffId"   ARGV[2] accountId   ARGV[3] seconds held
  Returns: {1} released and held;  {0} owned by someone else (nothing written).
]]
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return { 0 } end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
if owner then redis.call('DEL', KEYS[1]) end
return { 1 }
