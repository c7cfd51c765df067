--[[
  cancel-authorization-4.lua — releases an unbound authorization at once.
  KEYS[1..4], ARGV[1..3]: see lib/prologue.lua
  ARGV[4] authorizationId   ARGV[5] staffId of the caller ("" = operator, any staff)
  Returns: {1, snapshotJson} released; {0} unknown, expired, bound, or another staff
  member's (nothing to release); -1 / -100 as in lib/prologue.lua.
]]
--!include prologue
local early = prologue()
if early then return early end
local raw = redis.call('HGET', AUTHS, ARGV[4])
-- Only authorization records are JSON objects; a "req:…" index entry is no authorization.
if not raw or string.sub(raw, 1, 1) ~= '{' then
  finish()
  return { 0 }
end
local a = cjson.decode(raw)
if ARGV[5] ~= '' and a.s ~= ARGV[5] then
  finish()
  return { 0 }
end
P.reserved = P.reserved - a.r
redis.call('HDEL', AUTHS, ARGV[4], 'req:' .. a.s .. ':' .. a.q)
staff_auth_gone(a) -- issue #8: the staff member's open count
redis.call('ZREM', AUTHEXP, ARGV[4])
changed = true
return { 1, finish() }
