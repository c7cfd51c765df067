--[[
  read-alerts-4.lua — an account's low-balance alert settings as check_alerts applies them
  (lua/lib/alerts.lua): its own, or the default (10% of the plan, and 0). The default is
  decided there only, so what GET /alerts shows is what raises alerts.
  KEYS[1..4], ARGV[1..3]: see lib/prologue.lua
  Returns: {1, settingsJson {"t":[thresholds],"e":0|1,"w":0|1}}; -1 / -100 as in lib/prologue.lua.
]]
--!include prologue
local early = prologue()
if early then return early end
finish()
local t, e, w = alert_settings()
return { 1, cjson.encode({ t = t, e = e, w = w }) }
