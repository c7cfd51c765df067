--[[
  release-staff-authorizations-5.lua — a staff member's last socket on some instance closed
  a grace period ago (issue #8): release their open authorizations, unless a socket of
  theirs is open on any instance. Each instance holding sockets of the staff member keeps
  a lease in the presence set (member: instance id, score: lease expiry in wall-clock ms,
  renewed every few seconds); a crashed instance's lease simply runs out.
  KEYS[1..4], ARGV[1..3]: see lib/prologue.lua
  KEYS[5] presence zset of the staff member   <prefix>:{acc}:presence:<staffId>
  ARGV[4] staffId   ARGV[5] wall-clock now (ms) for the leases
  Returns: {1, released, snapshotJson or false} released (0 when there was nothing open);
           {2} a socket of the staff member is open somewhere: nothing released;
           -1 / -100 as in lib/prologue.lua.
]]
--!include prologue
local early = prologue()
if early then return early end
local PRESENCE = KEYS[5]
redis.call('ZREMRANGEBYSCORE', PRESENCE, '-inf', tonumber(ARGV[5]))
if redis.call('ZCARD', PRESENCE) > 0 then
  finish()
  return { 2 }
end
local released = release_staff_auths(ARGV[4])
return { 1, released, finish() }
