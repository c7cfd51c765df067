--[[
  archive-done-2.lua — the archiver wrote an account's ledger entries up to `through` (and
  the calls they settled) to PostgreSQL: remember it, trim what Redis no longer needs, and
  say whether more entries wait. Not a pool script (no cycle, no version, nothing
  published): the pool's numbers are untouched; only the archive's marks move.
  KEYS[1] pool hash   KEYS[2] ledger stream
  ARGV[1] the last stream id written ("<ms>-<seq>", or "0-0": nothing new)
  ARGV[2] the ledger window's start (ms): archived entries older than this leave the stream
          (LEDGER_REDIS_WINDOW_SECONDS); an entry not archived never does
  Pool fields: "archivedTo" — the last id archived (only ever moves forward);
               "unarchived" — the oldest id not archived (absent: all archived; written by
               lib/ledger.lua, which announces the account when it sets it).
  Returns: {1, oldestMs} all archived (oldestMs: the ms of the oldest entry still in the
           stream, or -1 when it is empty);  {2, id} the oldest entry still to archive;
           {-1} no such pool.
]]
local POOL, LEDGER = KEYS[1], KEYS[2]
if redis.call('EXISTS', POOL) == 0 then return { -1 } end

-- Stream ids compare as (ms, seq) numbers; both fit a double exactly.
local function split(id)
  local m, s = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(m), tonumber(s)
end
local function before(a, b)
  local am, as = split(a)
  local bm, bs = split(b)
  return am < bm or (am == bm and as < bs)
end

local through = ARGV[1]
local prior = redis.call('HGET', POOL, 'archivedTo')
if prior and before(through, prior) then through = prior end
if through ~= '0-0' then redis.call('HSET', POOL, 'archivedTo', through) end

-- Entries before `keep` leave the stream: older than the window, and archived.
local keep = tonumber(ARGV[2]) .. '-0'
local nxt = redis.call('XRANGE', LEDGER, '(' .. through, '+', 'COUNT', 1)
if #nxt > 0 and before(nxt[1][1], keep) then keep = nxt[1][1] end
redis.call('XTRIM', LEDGER, 'MINID', keep)

if #nxt > 0 then
  redis.call('HSET', POOL, 'unarchived', nxt[1][1])
  return { 2, nxt[1][1] }
end
redis.call('HDEL', POOL, 'unarchived')
local oldest = redis.call('XRANGE', LEDGER, '-', '+', 'COUNT', 1)
return { 1, #oldest > 0 and split(oldest[1][1]) or -1 }
