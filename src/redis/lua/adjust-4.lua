--[[
  adjust-4.lua — an operator's credit (minutes > 0) or debit (minutes < 0), ledger kind
  "adjustment". A debit larger than the balance is refused: the balance never goes
  negative (R6) and an operator's correction is not overage. Applied once per committed
  write (R19): the write's journal seq is kept in the pool ("adjustSeq"; an account's
  writes apply in journal order), so a write applied again after a crash changes nothing.
  KEYS[1..4], ARGV[1..3]: see lib/prologue.lua
  ARGV[4] minutes (signed whole number, not 0)   ARGV[5] reason   ARGV[6] ref
  ARGV[7] the write's journal seq, or "" (no watermark)
  Returns: {1, snapshotJson} applied; {-3, balance} debit exceeds balance (nothing written);
           {2, snapshotJson} this write was applied before (nothing written).
]]
--!include prologue
local early = prologue()
if early then return early end
local seq = tonumber(ARGV[7])
if seq then
  if tonumber(redis.call('HGET', POOL, 'adjustSeq') or '0') >= seq then
    return { 2, finish() or snapshot() }
  end
  redis.call('HSET', POOL, 'adjustSeq', seq)
end
local minutes = tonumber(ARGV[4])
if P.balance + minutes < 0 then
  finish()
  return { -3, P.balance }
end
P.balance = P.balance + minutes
ledger('adjustment', minutes, ARGV[6], { 'reason', ARGV[5] })
changed = true
return { 1, finish() }
