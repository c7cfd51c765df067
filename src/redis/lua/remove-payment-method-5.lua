--[[
  remove-payment-method-5.lua — removes a card on file. Purchases made with it keep their
  own copy of brand and last 4, so receipts and bills stay readable.
  KEYS[1] pool hash (read: the account exists)   KEYS[2..4] unused   ARGV[1..3] unused   KEYS[5] payment methods hash
  ARGV[4] paymentMethodId
  Returns: {1} removed; {0} no such card on this account; -1 no such account.
]]
--!include pool
if not load_pool() then return { -1 } end
return { redis.call('HDEL', KEYS[5], ARGV[4]) }
