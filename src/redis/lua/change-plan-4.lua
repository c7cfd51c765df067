--[[
  change-plan-4.lua — R9: the account's plan gets a new monthly figure. The allowance is
  plan + add-ons; add-ons are never touched here.
    * above the plan in force: the difference is credited at once, wherever the account
      is in its cycle (ledger plan_upgrade), and a pending cut is dropped — the new
      figure is the plan from now on;
    * equal to it: a pending cut is dropped, nothing is credited;
    * below it: stored as pendingPlan, which the next reset applies (lib/cycles.lua);
      the current balance is never clawed back.
  A raise is always measured against the plan in force this cycle, never against a
  pending cut: raising 500 → (cut to 200 pending) → 600 credits 100, not 400.
  KEYS[1..4], ARGV[1..3]: see lib/prologue.lua
  ARGV[4] planMinutes (whole number ≥ 0)   ARGV[5] ref for the ledger entry
  Returns: {1, effect, creditedMinutes, snapshotJson}
           effect: "raised" | "cut_next_cycle" | "unchanged"; -1 / -100 as in lib/prologue.lua.
]]
--!include prologue
local early = prologue()
if early then return early end
local new = tonumber(ARGV[4])
local old, oldMonthly = P.plan, P.monthly
local effect, credited = 'unchanged', 0
if new >= old and P.pendingPlan then
  P.pendingPlan = nil
  changed = true
end
if new > old then
  credited = new - old
  P.plan = new
  P.monthly = P.plan + P.addon
  P.balance = P.balance + credited
  ledger('plan_upgrade', credited, ARGV[5], { 'planMinutes', new, 'previousPlanMinutes', old,
    'monthlyMinutes', P.monthly, 'previousMonthlyMinutes', oldMonthly })
  effect = 'raised'
  changed = true
elseif new < old then
  if P.pendingPlan ~= new then
    P.pendingPlan = new
    changed = true
  end
  effect = 'cut_next_cycle'
end
local snap = finish()
return { 1, effect, credited, snap or snapshot() }
