--[[
  read-pool-4.lua — the R1 snapshot, after applying what is due (cycle reset, expired
  authorizations), so a read never shows a stale cycle.
  KEYS[1..4], ARGV[1..3]: see lib/prologue.lua
  Returns: {1, snapshotJson}; -1 / -100 as in lib/prologue.lua.
]]
--!include prologue
local early = prologue()
if early then return early end
local snap = finish()
return { 1, snap or snapshot() }
