// R16: a call's minutes belong to the cycle in which it ended (its terminal callback's
// Timestamp). A debit that arrives after that cycle was reset draws on what the cycle had
// left at its reset, then books that cycle's overage; the new cycle is untouched.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cycleContaining } from '../src/domain/cycle.js';
import { callSid, createAccount, startTestGateway, type TestClock, type TestGateway } from './support/gateway.js';
import { childLegEvent, dialAction, parentEvent, placeSoftphoneCall, postAll } from './support/calls.js';

const clock: TestClock = { now: Date.UTC(2034, 8, 12, 15, 0, 0) };
let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ clock });
});
afterAll(() => gw.stop());

const balanceOf = async (id: string) => (await gw.admin('GET', `/v1/accounts/${id}/balance`)).json;
const ledger = async (id: string): Promise<any[]> => (await gw.admin('GET', `/v1/accounts/${id}/ledger?limit=200&order=asc`)).json.entries;
const iso = (ms: number) => new Date(ms).toISOString();

/** The signals of an answered call whose leg ended at `endedAt`, after `seconds` of talk. */
function answeredAt(parent: string, seconds: number, endedAt: number) {
  const leg = callSid();
  return [
    childLegEvent(parent, leg, 2, 'in-progress', undefined, endedAt - seconds * 1000),
    childLegEvent(parent, leg, 3, 'completed', seconds, endedAt),
    dialAction(parent, leg, 'completed', seconds),
    { ...parentEvent(parent, null, 'completed', seconds + 5), Timestamp: new Date(endedAt).toUTCString() },
  ];
}

it('books a call that ended before the reset, reported after it, in the cycle it was used in', async () => {
  const start = clock.now;
  const anchor = start - 20 * 86400_000;
  const cycle = cycleContaining(anchor, start);
  const roomy = await createAccount(gw, { monthlyMinutes: 10, billingAnchor: iso(anchor) });
  const tight = await createAccount(gw, { monthlyMinutes: 2, billingAnchor: iso(anchor) });
  const a = await placeSoftphoneCall(gw, roomy.identity);
  const b = await placeSoftphoneCall(gw, tight.identity);
  const c = await placeSoftphoneCall(gw, roomy.identity);
  const d = await placeSoftphoneCall(gw, tight.identity);

  // a and b end a minute before the cycle does; their callbacks arrive 5 minutes after it.
  const endedAt = cycle.end - 60_000;
  clock.now = cycle.end + 5 * 60_000;
  await postAll(gw, answeredAt(a.callSid, 125, endedAt));
  await postAll(gw, answeredAt(b.callSid, 125, endedAt));
  // c talked across the reset: it ended in the new cycle and is billed there.
  await postAll(gw, answeredAt(c.callSid, 61, clock.now - 1000));

  // roomy: the new cycle starts from the full plan; only c's 2 minutes are in it.
  expect(await balanceOf(roomy.id)).toMatchObject({ balance: 8, reserved: 0, activeCalls: 0, usedThisCycle: 2, overageThisCycle: 0, cycleStart: iso(cycle.end) });
  const roomyLedger = await ledger(roomy.id);
  const reset = roomyLedger.filter((e) => e.kind === 'cycle_reset').at(-1);
  expect(reset).toMatchObject({ expiredMinutes: 10 });
  expect(roomyLedger.filter((e) => e.kind === 'call_debit')).toEqual([
    expect.objectContaining({ ref: a.callSid, minutes: 0, billedMinutes: 3, debitedMinutes: 3, overageMinutes: 0, cycleStart: iso(cycle.start) }),
    expect.objectContaining({ ref: c.callSid, minutes: -2, billedMinutes: 2, cycleStart: iso(cycle.end) }),
  ]);
  expect(roomyLedger.reduce((s, e) => s + e.minutes, 0)).toBe(8);

  // tight had 2 minutes left at the reset: a 3-minute call takes them and 1 minute of
  // overage in that old cycle; the new cycle's 2 minutes are untouched.
  expect(await balanceOf(tight.id)).toMatchObject({ balance: 2, usedThisCycle: 0, overageThisCycle: 0 });
  const tightLedger = await ledger(tight.id);
  expect(tightLedger.filter((e) => e.kind === 'cycle_reset').at(-1)).toMatchObject({ expiredMinutes: 2 });
  expect(tightLedger.filter((e) => e.kind === 'call_debit')).toEqual([
    expect.objectContaining({ ref: b.callSid, minutes: 0, billedMinutes: 3, debitedMinutes: 2, overageMinutes: 1, cycleStart: iso(cycle.start) }),
  ]);
  expect(tightLedger.reduce((s, e) => s + e.minutes, 0)).toBe(2);

  // A second late call of the old cycle finds what the first one left: nothing, so all overage.
  clock.now = cycle.end + 10 * 60_000;
  await postAll(gw, answeredAt(d.callSid, 40, cycle.end - 1000));
  const late = (await ledger(tight.id)).filter((e) => e.kind === 'call_debit' && e.ref === d.callSid);
  expect(late).toEqual([expect.objectContaining({ minutes: 0, billedMinutes: 1, debitedMinutes: 0, overageMinutes: 1, cycleStart: iso(cycle.start) })]);
  expect(await balanceOf(tight.id)).toMatchObject({ balance: 2, usedThisCycle: 0, overageThisCycle: 0 });
});

it('never books a call in a cycle before it was placed, nor after now, whatever its Timestamp says', async () => {
  const anchor = clock.now - 3 * 86400_000;
  const acct = await createAccount(gw, { monthlyMinutes: 10, billingAnchor: iso(anchor) });
  const cycle = cycleContaining(anchor, clock.now);
  const call = await placeSoftphoneCall(gw, acct.identity);
  // A Timestamp from long before the call was placed (a skewed clock) counts as its placing.
  await postAll(gw, answeredAt(call.callSid, 90, cycle.start - 40 * 86400_000));
  const debit = (await ledger(acct.id)).find((e) => e.kind === 'call_debit');
  expect(debit).toMatchObject({ minutes: -2, cycleStart: iso(cycle.start) });
});

it('books a call whose <Dial action> arrives first after the reset in the cycle it ended in: its answer’s Timestamp plus DialCallDuration', async () => {
  const anchor = clock.now - 10 * 86400_000;
  const cycle = cycleContaining(anchor, clock.now);
  const acct = await createAccount(gw, { monthlyMinutes: 10, billingAnchor: iso(anchor) });
  clock.now = cycle.end - 5 * 60_000;
  const call = await placeSoftphoneCall(gw, acct.identity);
  const unknownAnswer = await placeSoftphoneCall(gw, acct.identity);
  const leg = callSid();
  const answeredAt = cycle.end - 4 * 60_000;
  // The leg answered 4 minutes before the cycle ends and talked 125 s: the call ended
  // 115 s before the reset. Only the answer's callback arrives before it.
  await postAll(gw, [childLegEvent(call.callSid, leg, 2, 'in-progress', undefined, answeredAt)]);
  clock.now = cycle.end + 2 * 60_000;
  // The <Dial action> (no Timestamp) is the first word of the call's end.
  await postAll(gw, [dialAction(call.callSid, leg, 'completed', 125)]);
  // The other call's answer was never heard of: the action's arrival is all there is
  // (today's fallback), so it is booked in the new cycle.
  await postAll(gw, [dialAction(unknownAnswer.callSid, callSid(), 'completed', 61)]);
  // What follows is late for both.
  await postAll(gw, [
    childLegEvent(call.callSid, leg, 3, 'completed', 125, answeredAt + 125_000),
    { ...parentEvent(call.callSid, null, 'completed', 130), Timestamp: new Date(answeredAt + 126_000).toUTCString() },
  ]);

  const debits = (await ledger(acct.id)).filter((e) => e.kind === 'call_debit');
  expect(debits).toEqual([
    expect.objectContaining({
      ref: call.callSid, minutes: 0, late: 1, billedMinutes: 3, debitedMinutes: 3, cycleStart: iso(cycle.start),
      endedAt: iso(answeredAt + 125_000),
    }),
    expect.objectContaining({ ref: unknownAnswer.callSid, minutes: -2, billedMinutes: 2, cycleStart: iso(cycle.end) }),
  ]);
  // The new cycle holds only the second call's 2 minutes.
  expect(await balanceOf(acct.id)).toMatchObject({ balance: 8, reserved: 0, activeCalls: 0, usedThisCycle: 2, cycleStart: iso(cycle.end) });
});
