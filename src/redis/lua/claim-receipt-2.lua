--[[
  claim-receipt-2.lua — takes one receipt of the outbox for sending, for a lease, so that
  only one instance mails it at a time; a sender that dies leaves it due again when the
  lease ends (a receipt is delivered at least once, never lost).
  Not a pool script (no library included).
  KEYS[1] receipt outbox hash (purchaseId → JSON {attempts, next})   KEYS[2] purchases hash
  ARGV[1] now (ms)   ARGV[2] purchaseId   ARGV[3] lease (ms)
  Returns: {1, purchaseJson, attempts so far} claimed;
           {0} nothing to send (already sent, or unknown);
           {2, dueAt} not due yet (backing off, or leased to another instance).
]]
local NOW = tonumber(ARGV[1])
local raw = redis.call('HGET', KEYS[1], ARGV[2])
if not raw then return { 0 } end
local o = cjson.decode(raw)
if tonumber(o.next) > NOW then return { 2, o.next } end
local rec = redis.call('HGET', KEYS[2], ARGV[2])
if not rec then
  redis.call('HDEL', KEYS[1], ARGV[2])
  return { 0 }
end
o.next = NOW + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[2], cjson.encode(o))
return { 1, rec, o.attempts }
