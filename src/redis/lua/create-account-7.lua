--[[
  create-account-7.lua — creates an account: its pool with a full first allowance, its
  profile, staff and numbers, all or nothing. (The global identity/number directory is
  claimed by the caller beforehand: those keys live in other cluster slots.)
  KEYS[1..4] pool, ledger, auths, auth expiry (see lib/prologue.lua)
  KEYS[5] profile hash   KEYS[6] staff hash   KEYS[7] numbers set
  ARGV[1..3] now, events channel, cycle "index:start:end" containing now (required here)
  ARGV[4] accountId   ARGV[5] planMinutes (the first allowance: no add-ons yet)   ARGV[6] billing anchor (ms)
  ARGV[7] inboundWhenExhausted ("allow"|"reject")   ARGV[8] name
  ARGV[9] staff count n, then n pairs (staffId, staff JSON), then the phone numbers
  Returns: {1, snapshotJson} created; {0} an account with this id exists (nothing written).
]]
--!include prologue
if redis.call('EXISTS', POOL) == 1 then return { 0 } end
local idx, s, e = string.match(ARGV[3], '^(%-?%d+):(%-?%d+):(%-?%d+)$')
local monthly = tonumber(ARGV[5])
P = {
  accountId = ARGV[4], balance = monthly, reserved = 0, monthly = monthly, plan = monthly, addon = 0,
  cycleIndex = tonumber(idx), cycleStart = tonumber(s), cycleEnd = tonumber(e), used = 0,
  overage = 0, active = 0, version = 0, anchor = tonumber(ARGV[6]), inboundPolicy = ARGV[7],
}
redis.call('HSET', POOL, 'accountId', P.accountId, 'anchor', P.anchor, 'inboundPolicy', P.inboundPolicy)
redis.call('HSET', KEYS[5], 'id', ARGV[4], 'name', ARGV[8], 'createdAt', NOW)
local nStaff = tonumber(ARGV[9])
for i = 0, nStaff - 1 do
  redis.call('HSET', KEYS[6], ARGV[10 + 2 * i], ARGV[11 + 2 * i])
end
for i = 10 + 2 * nStaff, #ARGV do
  redis.call('SADD', KEYS[7], ARGV[i])
end
-- The first allowance is the opening entry of the ledger, so a replay starts from zero.
ledger('cycle_reset', monthly, 'cycle:' .. idx)
changed = true
return { 1, finish() }
