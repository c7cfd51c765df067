--[[
  revoke-staff-tokens-2.lua — every token issued to a staff member so far stops working
  (issue #8): their token generation moves on; tokens issued afterwards carry the new one.
  Not a pool script (no library included).
  KEYS[1] staff hash   KEYS[2] token generations hash (staffId -> generation)
  ARGV[1] now   ARGV[2] unused ("")   ARGV[3] unused ("")   ARGV[4] staffId
  Returns: {1, newGeneration} revoked;  {0} no such staff member (nothing written).
]]
if redis.call('HEXISTS', KEYS[1], ARGV[4]) == 0 then return { 0 } end
return { 1, redis.call('HINCRBY', KEYS[2], ARGV[4], 1) }
