// After voice and status: the gateway's own books must show every authorized call
// completed once, 2 minutes each, nothing reserved, and /metrics agreeing.
import { scrapeMetrics } from '../lib/api.js';
import type { Child } from '../lib/processes.js';
import { sleep } from '../lib/util.js';
import { ACCOUNT_ID, MINUTES_PER_CALL, api } from './context.js';
import type { StatusOutcome } from './status.js';

export async function balanceNow(port: number, accountId: string = ACCOUNT_ID) {
  const r = await api(port, 'GET', `/v1/accounts/${accountId}/balance`);
  if (r.status !== 200) throw new Error(`GET balance of ${accountId}: ${r.status} ${JSON.stringify(r.json)}`);
  return {
    balance: Number(r.json.balance),
    reserved: Number(r.json.reserved),
    activeCalls: Number(r.json.activeCalls),
    usedThisCycle: Number(r.json.usedThisCycle),
  };
}

export async function checkBooks(gw: Child, initial: { balance: number; usedThisCycle: number }, calls: number, s: StatusOutcome) {
  await sleep(200);
  const after = await balanceNow(gw.port);
  const metrics = await scrapeMetrics(gw.port);
  const metric = (name: string) => metrics.get(name) ?? 0;
  const expectedDebit = calls * MINUTES_PER_CALL;
  const debit = initial.balance - after.balance;
  const checks = {
    callsAuthorized: calls,
    callsCompleted: s.completedTotal,
    completedInMeasuredRun: s.completedMeasured,
    completedUnmeasured: s.drained,
    toppedUp: s.toppedUp,
    reserved: after.reserved,
    activeCalls: after.activeCalls,
    expectedDebit,
    debit,
    usedThisCycle: after.usedThisCycle - initial.usedThisCycle,
    metricsAllowed: metric('minutegate_call_authorizations_total{decision="allowed"}'),
    metricsFinalized: metric('minutegate_call_signals_total{outcome="finalized"}'),
    metricsDuplicate: metric('minutegate_call_signals_total{outcome="duplicate"}'),
    metricsUnknownCall: metric('minutegate_call_signals_total{outcome="unknown_call"}'),
    fillers: s.fillers,
    statusRunsCutShort: s.exhaustedRuns,
    gatewayWarnLogLines: gw.warnLines,
  };
  const balanceOk =
    checks.reserved === 0 &&
    checks.activeCalls === 0 &&
    debit === expectedDebit &&
    checks.usedThisCycle === expectedDebit &&
    s.completedTotal === calls;
  const metricsOk =
    checks.metricsAllowed === calls &&
    checks.metricsFinalized === calls &&
    checks.metricsDuplicate === 0 &&
    checks.metricsUnknownCall === s.fillers;
  return { checks, balanceOk, metricsOk };
}
