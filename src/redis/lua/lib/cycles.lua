--[[
  lib/cycles.lua — the billing cycle in Lua (R8, R16): the due reset, applied exactly once,
  and the closing records of reset cycles that late debits are booked against. The
  calendar itself is TypeScript's (src/domain/cycle.ts): Lua gets the instants.
    ARGV[3] cycle hint "index:start:end" (ms) for the cycle containing now, or ""
  Return code it may cause:
    -100 CYCLE_DUE    a reset is due and ARGV[3] did not name the cycle containing now;
                      second element: the billing anchor (ms). Nothing was written: the
                      caller computes the cycle (domain/cycle.ts) and calls again.
]]
--!include pool
--!include ledger

-- Closing records of reset cycles (R16), kept in the pool hash as
-- "cycle:<start ms>" = "<end>:<left>:<used>:<overage>" (left: what the cycle had at its
-- reset, less late debits booked against it since). The newest few are kept.
local CLOSED_CYCLES_KEPT = 24

local function save_closed_cycle(r)
  redis.call('HSET', POOL, 'cycle:' .. int(r.start), int(r['end']) .. ':' .. int(r.left) .. ':' .. int(r.used) .. ':' .. int(r.overage))
end

local function closed_cycles()
  local out = {}
  local flat = redis.call('HGETALL', POOL)
  for i = 1, #flat, 2 do
    local start = string.match(flat[i], '^cycle:(%-?%d+)$')
    if start then
      local e, left, used, over = string.match(flat[i + 1], '^(%-?%d+):(%-?%d+):(%-?%d+):(%-?%d+)$')
      out[#out + 1] = { start = tonumber(start), ['end'] = tonumber(e), left = tonumber(left), used = tonumber(used),
        overage = tonumber(over) }
    end
  end
  return out
end

local function closed_cycle_containing(at)
  for _, r in ipairs(closed_cycles()) do
    if r.start <= at and at < r['end'] then return r end
  end
  return nil
end

-- Called by the reset before the pool moves on: records the ending cycle and, when
-- whole cycles passed with nothing running (no scheduler, no traffic), one record for that
-- gap with the allowance it would have had.
local function close_cycle(newStart)
  save_closed_cycle({ start = P.cycleStart, ['end'] = P.cycleEnd, left = P.balance, used = P.used, overage = P.overage })
  if newStart > P.cycleEnd then
    save_closed_cycle({ start = P.cycleEnd, ['end'] = newStart, left = P.monthly, used = 0, overage = 0 })
  end
  local all = closed_cycles()
  if #all > CLOSED_CYCLES_KEPT then
    table.sort(all, function(a, b) return a.start < b.start end)
    for i = 1, #all - CLOSED_CYCLES_KEPT do redis.call('HDEL', POOL, 'cycle:' .. int(all[i].start)) end
  end
end

-- Applies a due cycle reset (R8) exactly once: the stored cycleEnd moves forward in the
-- same script, so every later script finds nothing due. Live reservations carry over.
local function apply_due_reset()
  if NOW < P.cycleEnd then return nil end
  local idx, s, e = string.match(ARGV[3] or '', '^(%-?%d+):(%-?%d+):(%-?%d+)$')
  idx, s, e = tonumber(idx), tonumber(s), tonumber(e)
  if not idx or s > NOW or e <= NOW or s < P.cycleEnd then
    return { -100, tonumber(redis.call('HGET', POOL, 'anchor')) }
  end
  apply_pending_allowance()
  local delta = P.monthly - P.balance
  close_cycle(s)
  local expired = P.balance
  P.balance = P.monthly
  P.used = 0
  P.overage = 0
  P.cycleIndex, P.cycleStart, P.cycleEnd = idx, s, e
  -- expiredMinutes: what the ended cycle had left (no rollover); late debits of that
  -- cycle draw on it (R16).
  ledger('cycle_reset', delta, 'cycle:' .. idx, { 'expiredMinutes', expired, 'planMinutes', int(P.plan), 'addonMinutes', int(P.addon) })
  changed = true
  return nil
end
