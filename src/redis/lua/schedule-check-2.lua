--[[
  schedule-check-2.lua — queues (or re-times, or drops) one reconciliation check in the
  account's queue (lib/checks.lua): for video participants and for reconciliation's own
  "look again at…". Calls queue theirs inside authorize-call / record-call-event.
  KEYS[1] pool hash   KEYS[2] checks zset
  ARGV[1] member   ARGV[2] due time (ms), or "" to drop the check   ARGV[3] "replace" or ""
  Returns: the due time to write to the global index (0: nothing to write; also when
           the account does not exist, which queues nothing).
]]
--!include checks
if redis.call('HEXISTS', KEYS[1], 'accountId') == 0 then return 0 end
if ARGV[2] == '' then
  drop_check(KEYS[2], ARGV[1])
  return 0
end
return schedule_check(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]), ARGV[3] == 'replace')
