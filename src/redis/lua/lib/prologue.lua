--[[
  lib/prologue.lua — the frame of every script that changes a pool: prologue() loads it
  and applies what is due (a cycle reset, expired authorizations); finish() writes back
  what changed, bumps version once, publishes the snapshot and raises alerts.
  A script that includes it takes KEYS[1..4] = pool, ledger, auths, auth expiry and
  ARGV[1..3] = now, events channel, cycle hint (see the libraries' headers).
  Return codes it may cause:
    -1   NO_ACCOUNT   the pool does not exist
    -100 CYCLE_DUE    see lib/cycles.lua
]]
--!include pool
--!include ledger
--!include cycles
--!include auths
--!include alerts

-- Loads the pool and applies what is due. Returns a reply to hand back at once, or nil.
local function prologue()
  if not load_pool() then return { -1 } end
  local early = apply_due_reset()
  if early then return early end
  sweep_expired_auths()
  return nil
end

-- Persists the pool and publishes its snapshot when anything changed; bumps version once
-- per script. Returns the snapshot JSON (or false when nothing changed).
local function finish()
  if not changed then return false end
  local before = L and L[POOL_FIELD.balance] -- for check_alerts: O and L move on to what is written here
  P.version = P.version + 1
  local args = { 'HSET', POOL }
  persist_allowance(args)
  local n = #args
  for _, f in ipairs(STATE_FIELDS) do
    local v = P[f]
    local i = POOL_FIELD[f]
    if v ~= nil and not (L and L[i] == v) then
      local s = int(v)
      args[n + 1], args[n + 2] = f, s
      n = n + 2
      -- Formatting a number is the dearest step here: snapshot() passes this one on as written.
      if L then O[i], L[i] = s, v end
    end
  end
  redis.call(unpack(args))
  local snap = snapshot()
  redis.call('SPUBLISH', CHANNEL, snap)
  check_alerts(before)
  return snap
end
