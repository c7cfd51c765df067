--[[
  lib/checks.lua — the account's reconciliation queue (R15): a sorted set in the
  account's own slot, member = what to check ("callSid", or "participantSid roomSid" for
  video), score = when (ms). Writing it costs a webhook nothing more than the script it
  runs anyway. Reconciliation finds accounts through a small global index (accountId by
  next due time) that the caller writes only when this account's earliest due time moves
  earlier than what the index is known to hold — for a busy account, almost never.
    POOL's field reconcileAt: the latest score the index may hold for this account (the
      index holds it or an earlier one, or a reconciler is about to re-set it); absent when
      nothing is known to be indexed.
  The index's own rules are in reconcile-index-1.lua.
]]

-- Queues `member` for a check at `dueAt` (LT: an earlier check already queued stands;
-- `replace`: this is the new time whatever it was). Returns the due time the caller must
-- write to the global index, or 0 when the index already covers it.
local function schedule_check(pool, checks, member, dueAt, replace)
  -- As a string: Redis 7.0 would format the number with printf("%.17g") (lib/pool.lua).
  local due = string.format('%d', dueAt)
  if replace then redis.call('ZADD', checks, due, member)
  else redis.call('ZADD', checks, 'LT', due, member) end
  local at = tonumber(redis.call('HGET', pool, 'reconcileAt'))
  if at and at <= dueAt then return 0 end
  redis.call('HSET', pool, 'reconcileAt', due)
  return dueAt
end

-- A call that became final needs no check any more.
local function drop_check(checks, member)
  redis.call('ZREM', checks, member)
end
