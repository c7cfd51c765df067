--[[
  lib/ledger.lua — appends ledger entries (R13) and marks what the archive has not taken yet.
    KEYS[2] ledger stream   <prefix>:{acc}:ledger
  The pool field "unarchived" holds the stream id of the oldest entry not yet written to
  PostgreSQL (R19); archive-done-2.lua moves it on. When an entry finds the account fully
  archived, the account is announced on the global channel <prefix>:archive as
  "<accountId> <ms of the entry id>", so an instance queues it for the archiver
  (src/jobs/archiver.ts); a busy account, already waiting, announces nothing more.
]]
--!include pool
local LEDGER -- per run (see lib/pool.lua)
local function ledger_begin() LEDGER = KEYS[2] end

-- Appends one ledger entry (R13). `minutes` is the signed change of balance, so replaying
-- the ledger (sum of minutes) gives the balance; balanceAfter is the balance it left.
local function ledger(kind, minutes, ref, extra)
  local args = { 'XADD', LEDGER, '*', 'kind', kind, 'minutes', int(minutes), 'balanceAfter', str('balance'),
    'ref', ref, 'at', NOW_S }
  if extra then
    for i = 1, #extra do args[#args + 1] = extra[i] end
  end
  local id = redis.call(unpack(args))
  if redis.call('HSETNX', POOL, 'unarchived', id) == 1 then
    redis.call('PUBLISH', string.match(CHANNEL, '^(.*):{') .. ':archive',
      P.accountId .. ' ' .. string.match(id, '^(%d+)'))
  end
  return id
end
