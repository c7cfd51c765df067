--[[
  alert-delivered-1.lua — one way of delivering an alert (e-mail or webhook) is done (or
  not wanted here); the alert leaves the pool hash once no way is left.
  KEYS[1] pool hash (the alert is its field "alertbox:<id>")
  ARGV[1] alertId   ARGV[2] "email" | "webhook"
  Returns: {1} nothing left to deliver (removed);  {0} the other way is still pending;
           {-2} no such alert (already delivered).
]]
local field = 'alertbox:' .. ARGV[1]
local raw = redis.call('HGET', KEYS[1], field)
if not raw then return { -2 } end
local a = cjson.decode(raw)
a[ARGV[2]] = false
if not a.email and not a.webhook then
  redis.call('HDEL', KEYS[1], field)
  return { 1 }
end
redis.call('HSET', KEYS[1], field, cjson.encode(a))
return { 0 }
