--[[
  archive-done-2.lua — the archiver wrote an account's ledger entries up to `through` (and
  the calls they settled) to PostgreSQL: remember it, and say whether more entries wait.
  Not a pool script (no cycle, no version, nothing published): the pool's numbers are
  untouched; only the archive's marks in the pool hash move.
  KEYS[1] pool hash   KEYS[2] ledger stream
  ARGV[1] the last stream id written ("<ms>-<seq>")
  Pool fields: "archivedTo" — the last id archived (only ever moves forward);
               "unarchived" — the oldest id not archived (absent: all archived; written by
               lib/ledger.lua, which announces the account when it sets it).
  Returns: {1} all archived;  {2, id} the oldest entry still to archive;  {-1} no such pool.
]]
local POOL, LEDGER = KEYS[1], KEYS[2]
if redis.call('EXISTS', POOL) == 0 then return { -1 } end

-- Stream ids compare as (ms, seq) numbers; both fit a double exactly.
local function before(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end

local through = ARGV[1]
local prior = redis.call('HGET', POOL, 'archivedTo')
if prior and before(through, prior) then through = prior end
redis.call('HSET', POOL, 'archivedTo', through)
local nxt = redis.call('XRANGE', LEDGER, '(' .. through, '+', 'COUNT', 1)
if #nxt > 0 then
  redis.call('HSET', POOL, 'unarchived', nxt[1][1])
  return { 2, nxt[1][1] }
end
redis.call('HDEL', POOL, 'unarchived')
return { 1 }
