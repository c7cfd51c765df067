--[[
  create-quote-5.lua — R10 review step: records a price quote for bundles of 100 minutes,
  valid until ARGV[10]. The quote is kept (with a TTL) until ARGV[11] so that a late
  confirmation is told "expired" rather than "unknown". A due reset is applied first, so
  "billed on" is the end of the cycle the purchase would fall in.
  KEYS[1..4], ARGV[1..3]: see lib/prologue.lua   KEYS[5] quote hash <prefix>:{acc}:quote:<id>
  ARGV[4] quoteId   ARGV[5] kind ("addon" | "one_time")   ARGV[6] bundles   ARGV[7] minutes
  ARGV[8] amountCents   ARGV[9] currency   ARGV[10] expiresAt (ms)   ARGV[11] keep until (ms)
  ARGV[12] who asked ("admin" or the staff id)
  Returns: {1, billedOn (ms)}; {0} a quote with this id exists (nothing written);
           -1 / -100 as in lib/prologue.lua.
]]
--!include prologue
local early = prologue()
if early then return early end
if redis.call('EXISTS', KEYS[5]) == 1 then
  finish()
  return { 0 }
end
redis.call('HSET', KEYS[5], 'quoteId', ARGV[4], 'accountId', P.accountId, 'kind', ARGV[5], 'bundles', ARGV[6],
  'minutes', ARGV[7], 'amountCents', ARGV[8], 'currency', ARGV[9], 'expiresAt', ARGV[10],
  'billedOn', P.cycleEnd, 'createdAt', NOW, 'createdBy', ARGV[12])
redis.call('PEXPIREAT', KEYS[5], ARGV[11])
finish()
return { 1, P.cycleEnd }
