--[[
  revoke-staff-tokens-2.lua — every token issued to a staff member so far stops working
  (issue #8): their token generation moves on; tokens issued afterwards carry the new one.
  Applied once per committed write (R19): the write's journal seq is kept as a watermark
  ("w:<staffId>"), so a write applied again after a crash moves nothing.
  Not a pool script (no library included).
  KEYS[1] staff hash   KEYS[2] token generations hash (staffId -> generation)
  ARGV[1] now   ARGV[2] the write's journal seq, or "" (no watermark)   ARGV[3] unused ("")   ARGV[4] staffId
  Returns: {1, newGeneration} revoked;  {2, generation} this write was applied before (nothing written);
           {0} no such staff member (nothing written).
]]
if redis.call('HEXISTS', KEYS[1], ARGV[4]) == 0 then return { 0 } end
if ARGV[2] ~= '' then
  local mark = 'w:' .. ARGV[4]
  local seen = tonumber(redis.call('HGET', KEYS[2], mark) or '0')
  if seen >= tonumber(ARGV[2]) then return { 2, tonumber(redis.call('HGET', KEYS[2], ARGV[4]) or '0') } end
  redis.call('HSET', KEYS[2], mark, ARGV[2])
end
return { 1, redis.call('HINCRBY', KEYS[2], ARGV[4], 1) }
