--[[
  receipt-sent-2.lua — a receipt was accepted by the SMTP server: it leaves the outbox and
  the purchase shows receipt.status "sent". Repeating it changes nothing.
  Not a pool script (no library included).
  KEYS[1] receipt outbox hash   KEYS[2] purchases hash
  ARGV[1] now (ms)   ARGV[2] purchaseId
  Returns: {1} recorded; {0} the purchase is unknown.
]]
local NOW = tonumber(ARGV[1])
local raw = redis.call('HGET', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[1], ARGV[2])
if not raw then return { 0 } end
local rec = cjson.decode(raw)
if rec.receipt.status ~= 'sent' then
  rec.receipt.status = 'sent'
  rec.receipt.sentAt = NOW
  rec.receipt.attempts = (tonumber(rec.receipt.attempts) or 0) + 1
  rec.receipt.lastError = nil
  rec.receipt.nextAttemptAt = nil
  redis.call('HSET', KEYS[2], ARGV[2], cjson.encode(rec))
end
return { 1 }
