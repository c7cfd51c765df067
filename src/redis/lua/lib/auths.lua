--[[
  lib/auths.lua — unbound softphone authorizations (R2, R17): expiry sweeps, per-staff
  open counts, release of a staff member's authorizations.
    KEYS[3] auths hash      <prefix>:{acc}:auths      (authorizationId -> JSON; "req:<staff>:<request>" -> authorizationId;
                                                     "req:#<staff>" -> open count)
    KEYS[4] auth expiry     <prefix>:{acc}:authexp    (zset authorizationId by expiry ms)
]]
--!include pool
local AUTHS, AUTHEXP -- per run (see lib/pool.lua)
local function auths_begin() AUTHS, AUTHEXP = KEYS[3], KEYS[4] end

-- Issue #8: how many open authorizations each staff member holds, kept in the auths hash
-- under "req:#<staffId>" ("#" never occurs in a staffId, so it never meets a
-- "req:<staffId>:<requestId>" field). create-authorization counts up; every script that
-- removes an authorization does, through drop_auth(). Emergency ones count like any other (R21).
local function staff_auth_gone(a)
  local f = 'req:#' .. a.s
  if redis.call('HINCRBY', AUTHS, f, '-1') <= 0 then redis.call('HDEL', AUTHS, f) end
end

-- The one way an authorization goes (issue #22: it was written out five times): its record,
-- its request index entry, its expiry and its place in the staff member's open count.
-- release: its reservation goes back to the pool (expired, cancelled, released, or bound
-- by an emergency call, which reserves nothing); false when a call takes the reservation
-- over.
local function drop_auth(id, a, release)
  redis.call('HDEL', AUTHS, id, 'req:' .. a.s .. ':' .. a.q)
  staff_auth_gone(a)
  redis.call('ZREM', AUTHEXP, id)
  if release then
    P.reserved = P.reserved - a.r
    changed = true
  end
end

-- Releases the reservations of authorizations that were never bound to a call (R2).
local function sweep_expired_auths()
  -- Bounded so one script never blocks Redis for long; the rest go in the next script.
  local due = redis.call('ZRANGEBYSCORE', AUTHEXP, '-inf', NOW_S, 'LIMIT', '0', '1000')
  for _, id in ipairs(due) do
    local raw = redis.call('HGET', AUTHS, id)
    if raw then
      drop_auth(id, cjson.decode(raw), true)
    else
      redis.call('ZREM', AUTHEXP, id)
    end
  end
end

-- Issue #8: releases every open authorization of a staff member (their sockets are all
-- gone, or they were removed). Nothing to look through when their count is 0 (the usual
-- case); otherwise the account's open authorizations are. Returns how many were released.
local function release_staff_auths(staffId)
  local f = 'req:#' .. staffId
  if not redis.call('HGET', AUTHS, f) then return 0 end
  local n = 0
  for _, id in ipairs(redis.call('ZRANGE', AUTHEXP, '0', '-1')) do
    local raw = redis.call('HGET', AUTHS, id)
    if raw then
      local a = cjson.decode(raw)
      if a.s == staffId then
        drop_auth(id, a, true)
        n = n + 1
      end
    end
  end
  redis.call('HDEL', AUTHS, f) -- none of theirs is left, whatever the count said
  return n
end
