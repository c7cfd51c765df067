--[[
  restore-account-9.lua — R20 (`npm run restore`): an account's live state, rebuilt from
  the books (src/recovery/rebuild.ts folds them; src/redis/restore-store.ts encodes them),
  written all at once — or not at all when the account is live: a pool that exists (never
  lost, restored already by a concurrent restore, or created meanwhile) is never
  overwritten, so running a restore twice, or two at once, changes nothing.
  No reservation and no call is restored (reserved = active = 0 come in the pool fields).
  The ledger stream gets the archive's last entry as its last id (added, then deleted: the
  entry stays in PostgreSQL only), so every entry appended from now on sorts after every
  archived one, whatever the clock; then the entries the archive lacked (writes answered
  just before the loss) are appended, the oldest marked "unarchived" and announced on
  <prefix>:archive as lib/ledger.lua does, so the archiver takes them.
  The global keys (directory claims, removal markers, the cycle schedule) live in other
  slots: the store writes them before this script, as account creation does.
  KEYS[1] pool hash   KEYS[2] ledger stream   KEYS[3] profile hash   KEYS[4] staff hash
  KEYS[5] numbers set   KEYS[6] token generations hash   KEYS[7] payment methods hash
  KEYS[8] purchases hash   KEYS[9] charges zset
  ARGV[1] now (ms)   ARGV[2] events channel
  ARGV[3] JSON {"accountId", "pool":[field,value…], "profile":[…], "staff":[…], "numbers":[…],
          "tokenGen":[…], "cards":[…], "purchases":[…], "charges":[score,member…],
          "tail":{"id","fields":[…]} (absent: nothing archived), "entries":[[field,value…]…]}
  Returns: {1, snapshotJson} restored;  {0} the pool exists (nothing written).
]]
--!include pool
if redis.call('EXISTS', POOL) == 1 then return { 0 } end
local a = cjson.decode(ARGV[3])
local LEDGER = KEYS[2]

-- One command per a few hundred elements: unpack() has a limit on how many it spreads.
local function spread(cmd, key, flat, width)
  local step = 200 * width
  for i = 1, #flat, step do
    local args = { cmd, key }
    for j = i, math.min(i + step - 1, #flat) do args[#args + 1] = flat[j] end
    redis.call(unpack(args))
  end
end

spread('HSET', POOL, a.pool, 2)
spread('HSET', KEYS[3], a.profile, 2)
spread('HSET', KEYS[4], a.staff, 2)
spread('SADD', KEYS[5], a.numbers, 1)
spread('HSET', KEYS[6], a.tokenGen, 2)
spread('HSET', KEYS[7], a.cards, 2)
spread('HSET', KEYS[8], a.purchases, 2)
spread('ZADD', KEYS[9], a.charges, 2)

if a.tail then
  redis.call('XADD', LEDGER, a.tail.id, unpack(a.tail.fields))
  redis.call('XDEL', LEDGER, a.tail.id)
  redis.call('HSET', POOL, 'archivedTo', a.tail.id)
end
for i, fields in ipairs(a.entries) do
  local id = redis.call('XADD', LEDGER, '*', unpack(fields))
  if i == 1 then
    redis.call('HSET', POOL, 'unarchived', id)
    redis.call('PUBLISH', string.match(CHANNEL, '^(.*):{') .. ':archive', a.accountId .. ' ' .. string.match(id, '^(%d+)'))
  end
end

load_pool()
local snap = snapshot()
redis.call('SPUBLISH', CHANNEL, snap)
return { 1, snap }
