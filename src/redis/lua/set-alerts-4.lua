--[[
  set-alerts-4.lua — an account's low-balance alert settings (see check_alerts in
  lib/alerts.lua). Thresholds already raised this cycle stay raised; a threshold that is
  new and already under the balance is not raised until the balance crosses it.
  KEYS[1..4], ARGV[1..3]: see lib/prologue.lua
  ARGV[4] JSON {"t":[thresholds, whole minutes ≥ 0, descending],"e":0|1,"w":0|1}
  Returns: {1}; -1 / -100 as in lib/prologue.lua.
]]
--!include prologue
local early = prologue()
if early then return early end
redis.call('HSET', POOL, 'alertCfg', ARGV[4])
finish()
return { 1 }
