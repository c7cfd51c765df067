--[[
  lib/ledger.lua — appends ledger entries (R13).
    KEYS[2] ledger stream   <prefix>:{acc}:ledger
]]
--!include pool
local LEDGER = KEYS[2]

-- Appends one ledger entry (R13). `minutes` is the signed change of balance, so replaying
-- the ledger (sum of minutes) gives the balance; balanceAfter is the balance it left.
local function ledger(kind, minutes, ref, extra)
  local args = { 'XADD', LEDGER, '*', 'kind', kind, 'minutes', minutes, 'balanceAfter', P.balance,
    'ref', ref, 'at', NOW }
  if extra then
    for i = 1, #extra do args[#args + 1] = extra[i] end
  end
  redis.call(unpack(args))
end
