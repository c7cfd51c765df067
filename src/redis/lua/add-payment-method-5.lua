--[[
  add-payment-method-5.lua — keeps a card on file: the payment processor's token with
  brand, last 4 digits and expiry only (the HTTP edge refuses raw card numbers before
  anything reaches Redis). The pool is only read, to know the account exists.
  KEYS[1] pool hash (read: the account exists)   KEYS[2..4] unused   ARGV[1..3] unused   KEYS[5] payment methods hash (pmId → JSON)
  ARGV[4] paymentMethodId   ARGV[5] payment method JSON   ARGV[6] most cards an account keeps
  Returns: {1} stored; {-30} the account already keeps ARGV[6] cards (nothing written);
           -1 no such account.
]]
--!include pool
if not load_pool() then return { -1 } end
if redis.call('HLEN', KEYS[5]) >= tonumber(ARGV[6]) then return { -30 } end
redis.call('HSET', KEYS[5], ARGV[4], ARGV[5])
return { 1 }
