--[[
  purchase-10.lua — R10 confirmation: buys the minutes of a quote with a card on file,
  all or nothing, in the account's slot:
    idempotency check → quote check and use → card check → credit (an addon also raises
    the add-on part of the allowance) → ledger "purchase" → snapshot published
    → charge line for the monthly bill → purchase record → receipt outbox entry →
    idempotency record holding the first answer.
  A due cycle reset is applied first, so bought minutes always land in the cycle that is
  current now and are never wiped by a reset that was already due.
  Refusals write nothing but that reset, and are not remembered under the key: the client
  may fix the request (another card, a fresh quote) and retry with the same key.
  KEYS[1..4], ARGV[1..3]: see lib/prologue.lua
  KEYS[5] quote hash   KEYS[6] idempotency record (string)   KEYS[7] payment methods hash
  KEYS[8] purchases hash (purchaseId → JSON)   KEYS[9] charges (zset of JSON lines by time)
  KEYS[10] receipt outbox hash (purchaseId → JSON {attempts, next})
  ARGV[4] purchaseId (fresh)   ARGV[5] request fingerprint   ARGV[6] idempotency TTL (ms)
  ARGV[7] quoteId   ARGV[8] paymentMethodId   ARGV[9] ordering staff id   ARGV[10] receipt address
  Returns:
    {1, purchaseJson}  bought now
    {2, purchaseJson}  the key was used before with the same request: the first answer
    {-20}  IDEMPOTENCY_MISMATCH      the key was used before with another request
    {-21}  QUOTE_NOT_FOUND           {-22} QUOTE_USED     {-23} QUOTE_EXPIRED
    {-24}  PAYMENT_METHOD_NOT_FOUND  {-25} CARD_EXPIRED
    -1 / -100 as in lib/prologue.lua.
]]
--!include prologue
local early = prologue()
if early then return early end

local function refuse(code)
  finish()
  return { code }
end

local idem = redis.call('GET', KEYS[6])
if idem then
  local r = cjson.decode(idem)
  if r.fp ~= ARGV[5] then return refuse(-20) end
  finish()
  return { 2, cjson.encode(r.purchase) }
end

local flat = redis.call('HGETALL', KEYS[5])
if #flat == 0 then return refuse(-21) end
local q = {}
for i = 1, #flat, 2 do q[flat[i]] = flat[i + 1] end
if q.usedBy then return refuse(-22) end
if NOW >= tonumber(q.expiresAt) then return refuse(-23) end

local rawPm = redis.call('HGET', KEYS[7], ARGV[8])
if not rawPm then return refuse(-24) end
local pm = cjson.decode(rawPm)
if NOW >= tonumber(pm.expiresAt) then return refuse(-25) end

local purchaseId = ARGV[4]
local minutes, bundles, amount = tonumber(q.minutes), tonumber(q.bundles), tonumber(q.amountCents)
P.balance = P.balance + minutes
if q.kind == 'addon' then
  -- Recurring: the add-on part of the allowance grows from now on (also the next cycle's,
  -- which is plan + add-ons whatever plan change is pending).
  P.addon = P.addon + minutes
  P.monthly = P.plan + P.addon
end
ledger('purchase', minutes, purchaseId, { 'purchaseKind', q.kind, 'bundles', bundles, 'amountCents', amount })
changed = true
redis.call('HSET', KEYS[5], 'usedBy', purchaseId, 'usedAt', NOW)
local snap = finish()

local rec = {
  purchaseId = purchaseId, kind = q.kind, bundles = bundles, minutes = minutes, amountCents = amount,
  currency = q.currency, quoteId = ARGV[7], staffId = ARGV[9], createdAt = NOW, billedOn = P.cycleEnd,
  paymentMethod = { id = pm.id, brand = pm.brand, last4 = pm.last4 },
  balance = cjson.decode(snap),
  receipt = { to = ARGV[10], status = 'queued', attempts = 0 },
}
local recJson = cjson.encode(rec)
redis.call('ZADD', KEYS[9], NOW, cjson.encode({
  purchaseId = purchaseId, kind = q.kind, bundles = bundles, minutes = minutes, amountCents = amount,
  currency = q.currency, at = NOW, brand = pm.brand, last4 = pm.last4,
}))
redis.call('HSET', KEYS[8], purchaseId, recJson)
redis.call('HSET', KEYS[10], purchaseId, cjson.encode({ attempts = 0, next = NOW }))
redis.call('SET', KEYS[6], cjson.encode({ fp = ARGV[5], purchase = rec }), 'PX', ARGV[6])
return { 1, recJson }
