--[[
  claim-identity-2.lua — a softphone identity is claimed for an account's staff member
  (issue #16): it is taken only when nobody owns it and it was not removed from *another*
  account while a Voice SDK token minted for it may still be valid. Otherwise that token
  would place calls on the new owner's pool. The account that removed it may take it back.
  Not a pool script: the identity key and its removal marker share a cluster slot (the
  marker's hash tag is the identity key, see keys.ts), so this runs on any node.
  KEYS[1] the identity's directory key   KEYS[2] its removal marker (value: accountId)
  ARGV[1] the owner's value "accountId staffId"   ARGV[2] accountId
  Returns: {1} claimed;  {2} already this owner's (nothing written);
           {0} owned by someone else;  {-1, secondsLeft} held for the account that removed it.
]]
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then return { 2 } end
if owner then return { 0 } end
local removedBy = redis.call('GET', KEYS[2])
if removedBy and removedBy ~= ARGV[2] then
  return { -1, redis.call('TTL', KEYS[2]) }
end
-- The marker stays for its whole term: should this claim be undone (the member could not
-- be added), the identity is still held for the account that removed it.
redis.call('SET', KEYS[1], ARGV[1])
return { 1 }
