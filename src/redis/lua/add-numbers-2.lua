--[[
  add-numbers-2.lua — phone numbers join an existing account (each claimed in the
  directory before this runs); numbers it already has are kept once. Not a pool script.
  KEYS[1] pool hash (the account must exist)   KEYS[2] numbers set
  ARGV[1..n] E.164 numbers
  Returns: {1, added} done (added: how many were new);  {-1} no such account (nothing written).
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return { -1 } end
return { 1, redis.call('SADD', KEYS[2], unpack(ARGV)) }
