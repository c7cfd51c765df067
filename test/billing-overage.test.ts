// R6 where money is: a cycle's overage minutes are a line of that cycle's charges
// statement, priced at OVERAGE_PRICE_CENTS_PER_MINUTE — late debits booked into a closed
// cycle (R16) included.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cycleContaining } from '../src/domain/cycle.js';
import { callSid, createAccount, startTestGateway, type TestClock, type TestGateway } from './support/gateway.js';
import { childLegEvent, dialAction, placeSoftphoneCall, postAll } from './support/calls.js';

const clock: TestClock = { now: Date.UTC(2036, 3, 20, 10, 0, 0) };
let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ clock, env: { OVERAGE_PRICE_CENTS_PER_MINUTE: '12' } });
});
afterAll(() => gw.stop());

function talk(parent: string, seconds: number, endedAt: number) {
  const leg = callSid();
  return [childLegEvent(parent, leg, 3, 'completed', seconds, endedAt), dialAction(parent, leg, 'completed', seconds)];
}

it('shows the current and the previous cycle’s overage as a priced line', async () => {
  const anchor = clock.now - 5 * 86400_000;
  const cycle = cycleContaining(anchor, clock.now);
  const a = await createAccount(gw, { monthlyMinutes: 1, billingAnchor: new Date(anchor).toISOString() });
  const first = await placeSoftphoneCall(gw, a.identity);
  await postAll(gw, talk(first.callSid, 180, clock.now));
  const current = (await gw.admin('GET', `/v1/accounts/${a.id}/charges`)).json;
  expect(current.lines).toEqual([
    expect.objectContaining({ kind: 'overage', minutes: 2, unitPriceCents: 12, amountCents: 24, at: new Date(cycle.end).toISOString() }),
  ]);
  expect(current.totalCents).toBe(24);

  // A call of that cycle reported after its reset adds to that cycle's overage line only.
  const late = await placeSoftphoneCall(gw, a.identity, '+14155550100');
  expect(late.allowed).toBe(false); // nothing left
  await gw.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: 1, reason: 'goodwill' });
  const second = await placeSoftphoneCall(gw, a.identity);
  expect(second.allowed).toBe(true);
  const endedAt = cycle.end - 120_000;
  clock.now = cycle.end + 60_000;
  await postAll(gw, talk(second.callSid, 100, endedAt));
  const previous = (await gw.admin('GET', `/v1/accounts/${a.id}/charges?cycle=previous`)).json;
  expect(previous.cycleStart).toBe(new Date(cycle.start).toISOString());
  // 2 minutes of the first call, then the late call's 2 minutes against the 1 goodwill minute left: 1 more.
  expect(previous.lines).toEqual([expect.objectContaining({ kind: 'overage', minutes: 3, amountCents: 36 })]);
  const now = (await gw.admin('GET', `/v1/accounts/${a.id}/charges`)).json;
  expect(now.lines).toEqual([]);
  expect((await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json).toMatchObject({ balance: 1, overageThisCycle: 0, usedThisCycle: 0 });
});
