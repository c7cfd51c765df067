--!include pool

-- Low-balance alerts (per account). Thresholds (minutes of balance) come from the pool
-- field alertCfg (JSON {"t":[…],"e":0|1,"w":0|1}, set-alerts-4.lua), by default 10% of the
-- plan and 0. A balance that crosses a threshold downwards (a debit, an adjustment, a
-- reset) raises it once per cycle ("alertsFired" = "<cycleStart>|t,t,…"); a rise above it
-- (a purchase, a raise, a reset) re-arms it. Each alert is kept in the pool hash as
-- "alertbox:<id>" until delivered (e-mail, webhook: src/alerts), published on the
-- account's channel for its sockets, and announced on the global "<prefix>:alerts"
-- channel so a dispatcher queues its delivery.
-- The alert fields are read when needed (see load_pool), once per script.
local alert_fields_loaded -- per run (see lib/pool.lua)
local function alerts_begin() alert_fields_loaded = false end
local function load_alert_fields()
  if alert_fields_loaded then return end
  alert_fields_loaded = true
  local v = redis.call('HMGET', POOL, 'alertCfg', 'alertsFired')
  P.alertCfg, P.alertsFired = v[1], v[2]
end

local function alert_settings()
  load_alert_fields()
  if P.alertCfg then
    local c = cjson.decode(P.alertCfg)
    return c.t, c.e, c.w
  end
  local tenth = math.floor((P.plan or P.monthly or 0) / 10)
  if tenth > 0 then return { tenth, 0 }, 1, 1 end
  return { 0 }, 1, 1
end

local function raise_alert(threshold, email, webhook)
  local seq = redis.call('HINCRBY', POOL, 'alertSeq', '1')
  local id = 'al_' .. int(P.cycleStart) .. '_' .. seq
  local level = threshold == 0 and 'exhausted' or 'low'
  local available = P.balance - P.reserved
  redis.call('HSET', POOL, 'alertbox:' .. id, cjson.encode({ id = id, level = level, accountId = P.accountId,
    available = available, threshold = threshold, cycleStart = P.cycleStart, at = NOW,
    email = email == 1, webhook = webhook == 1 }))
  redis.call('SPUBLISH', CHANNEL, '{"t":"alert","accountId":"' .. P.accountId .. '","id":"' .. id .. '","level":"' .. level ..
    '","available":' .. int(available) .. ',"threshold":' .. int(threshold) .. ',"cycleStart":' .. int(P.cycleStart) ..
    ',"at":' .. int(NOW) .. ',"version":' .. int(P.version) .. '}')
  redis.call('PUBLISH', string.match(CHANNEL, '^(.*):{') .. ':alerts', P.accountId .. ' ' .. id)
end

-- `before`: the balance as loaded (nil when the pool was not loaded but created).
local function check_alerts(before)
  local after = P.balance
  if not before or before == after then return end
  local ts, email, webhook = alert_settings() -- loads P.alertsFired too
  local fc, list = string.match(P.alertsFired or '', '^(%-?%d+)|(.*)$')
  local fired, dirty = {}, tonumber(fc) ~= P.cycleStart
  if not dirty then
    for t in string.gmatch(list, '(%-?%d+)') do fired[tonumber(t)] = true end
  end
  if after > before then
    for t in pairs(fired) do
      if after > t then fired[t] = nil dirty = true end
    end
  else
    for _, t in ipairs(ts) do
      if before > t and after <= t and not fired[t] then
        fired[t] = true
        dirty = true
        raise_alert(t, email, webhook)
      end
    end
  end
  if dirty then
    local out = {}
    for t in pairs(fired) do out[#out + 1] = int(t) end
    redis.call('HSET', POOL, 'alertsFired', int(P.cycleStart) .. '|' .. table.concat(out, ','))
  end
end
