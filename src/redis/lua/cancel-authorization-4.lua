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
local id, staffId = ARGV[4], ARGV[5]
local raw = redis.call('HGET', AUTHS, id)
-- Only authorization records are JSON objects; a "req:…" index entry is no authorization.
if not raw or string.sub(raw, 1, 1) ~= '{' then
  finish()
  return { 0 }
end
local a = cjson.decode(raw)
if staffId ~= '' and a.s ~= staffId then
  finish()
  return { 0 }
end
drop_auth(id, a, true)
return { 1, finish() }
