--[[
  adjust-4.lua — an operator's credit (minutes > 0) or debit (minutes < 0), ledger kind
  "adjustment". A debit larger than the balance is refused: the balance never goes
  negative (R6) and an operator's correction is not overage.
  KEYS[1..4], ARGV[1..3]: see lib/prologue.lua
  ARGV[4] minutes (signed whole number, not 0)   ARGV[5] reason   ARGV[6] ref
  Returns: {1, snapshotJson} applied; {-3, balance} debit exceeds balance (nothing written).
]]
--!include prologue
local early = prologue()
if early then return early end
local minutes = tonumber(ARGV[4])
if P.balance + minutes < 0 then
  finish()
  return { -3, P.balance }
end
P.balance = P.balance + minutes
ledger('adjustment', minutes, ARGV[6], { 'reason', ARGV[5] })
changed = true
return { 1, finish() }
