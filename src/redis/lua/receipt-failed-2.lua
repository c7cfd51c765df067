--[[
  receipt-failed-2.lua — sending a receipt failed (SMTP unreachable or refusing): it stays
  queued and is tried again at ARGV[3]. The purchase shows the attempts and last error.
  Not a pool script (no library included).
  KEYS[1] receipt outbox hash   KEYS[2] purchases hash
  ARGV[1] now (ms)   ARGV[2] purchaseId   ARGV[3] next attempt at (ms)   ARGV[4] error summary
  Returns: {1, attempts} recorded; {0} not in the outbox any more (sent meanwhile).
]]
local NOW = tonumber(ARGV[1])
local raw = redis.call('HGET', KEYS[1], ARGV[2])
if not raw then return { 0 } end
local o = cjson.decode(raw)
o.attempts = (tonumber(o.attempts) or 0) + 1
o.next = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[2], cjson.encode(o))
local rawRec = redis.call('HGET', KEYS[2], ARGV[2])
if rawRec then
  local rec = cjson.decode(rawRec)
  rec.receipt.attempts = o.attempts
  rec.receipt.lastAttemptAt = NOW
  rec.receipt.nextAttemptAt = o.next
  rec.receipt.lastError = ARGV[4]
  redis.call('HSET', KEYS[2], ARGV[2], cjson.encode(rec))
end
return { 1, o.attempts }
