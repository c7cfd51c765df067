--[[
  add-staff-2.lua — a staff member joins an existing account (their softphone identity is
  claimed in the directory before this runs). Not a pool script (no library included).
  KEYS[1] pool hash (the account must exist)   KEYS[2] staff hash (staffId -> member JSON)
  ARGV[1] staffId   ARGV[2] the member's JSON
  Returns: {1} added;  {0} the account already has a member with this id (nothing written);
           {-1} no such account (nothing written).
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return { -1 } end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return { 0 } end
return { 1 }
