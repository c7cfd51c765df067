--[[
  remove-staff-6.lua — an operator removes a staff member (issue #8): the member leaves the
  staff hash, their token generation moves on (every token issued so far stops working,
  also should the same staffId be added again), and their open authorizations are
  released. Calls already in progress go on (R3) and are settled as usual.
  KEYS[1..4], ARGV[1..3]: see lib/prologue.lua
  KEYS[5] staff hash   KEYS[6] token generations hash (staffId -> generation)
  ARGV[4] staffId
  Returns: {1, memberJson, releasedCount, snapshotJson or false} removed;
           {0} no such staff member; -1 / -100 as in lib/prologue.lua.
]]
--!include prologue
local early = prologue()
if early then return early end
local STAFF, TOKENGEN = KEYS[5], KEYS[6]
local member = redis.call('HGET', STAFF, ARGV[4])
if not member then
  finish()
  return { 0 }
end
redis.call('HDEL', STAFF, ARGV[4])
redis.call('HINCRBY', TOKENGEN, ARGV[4], 1)
local released = release_staff_auths(ARGV[4])
return { 1, member, released, finish() }
