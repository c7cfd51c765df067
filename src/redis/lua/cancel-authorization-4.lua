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
-- A staff member's cancel reads their open count (issue #8) with the record, so that the
-- count is written with the same HDEL (or one HSET) instead of HINCRBY and an HDEL.
local countField = staffId ~= '' and 'req:#' .. staffId or nil
local got = countField and redis.call('HMGET', AUTHS, id, countField) or { redis.call('HGET', AUTHS, id) }
local raw = got[1]
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
P.reserved = P.reserved - a.r
local reqField = 'req:' .. a.s .. ':' .. a.q
if not countField then
  -- An operator's cancel learns the staff member only now.
  redis.call('HDEL', AUTHS, id, reqField)
  staff_auth_gone(a)
else
  local left = (tonumber(got[2]) or 0) - 1
  if left <= 0 then
    redis.call('HDEL', AUTHS, id, reqField, countField)
  else
    redis.call('HDEL', AUTHS, id, reqField)
    redis.call('HSET', AUTHS, countField, int(left))
  end
end
redis.call('ZREM', AUTHEXP, id)
changed = true
return { 1, finish() }
