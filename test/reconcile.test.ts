// R15: calls whose final signal never arrives are settled from Twilio's REST records —
// never on a guess: a failed look-up leaves the call open and is tried again.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { callSid, createAccount, startTestGateway, TEST_AUTH_TOKEN, type TestGateway } from './support/gateway.js';
import { childLegEvent, parentEvent, placeSoftphoneCall, postAll } from './support/calls.js';
import { startFakeTwilioRest, type FakeTwilioRest } from './support/fake-twilio-rest.js';

const AC = 'AC0123456789abcdef0123456789abcdef';
let twilio: FakeTwilioRest;
let gw: TestGateway;
beforeAll(async () => {
  twilio = await startFakeTwilioRest(AC, AC, TEST_AUTH_TOKEN);
  gw = await startTestGateway({
    env: { TWILIO_ACCOUNT_SID: AC, TWILIO_API_BASE_URL: twilio.url, FINAL_GRACE_SECONDS: '1', RECONCILE_POLL_SECONDS: '1' },
  });
});
afterAll(async () => {
  await gw.stop();
  await twilio.close();
});

const balance = async (id: string) => (await gw.admin('GET', `/v1/accounts/${id}/balance`)).json;

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 8000): Promise<T> {
  const end = Date.now() + ms;
  let v = await fn();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    v = await fn();
  }
  return v;
}

it('settles a call whose dialled leg never reported, from Twilio’s record of the leg', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 10 });
  const call = await placeSoftphoneCall(gw, a.identity);
  const child = callSid();
  // The parent ends; the leg's callbacks and the <Dial action> are lost.
  await postAll(gw, [childLegEvent(call.callSid, child, 0, 'initiated'), parentEvent(call.callSid, null, 'completed', 140)]);
  expect(await balance(a.id)).toMatchObject({ reserved: 1, activeCalls: 1 });

  // Twilio is down at first: nothing is charged, the call stays open.
  twilio.failWith = 503;
  twilio.calls.set(call.callSid, { sid: call.callSid, parent_call_sid: null, status: 'completed', duration: '140' });
  twilio.calls.set(child, { sid: child, parent_call_sid: call.callSid, status: 'completed', duration: '125' });
  await until(async () => twilio.requests.length, (n) => n > 0);
  await new Promise((r) => setTimeout(r, 300));
  expect(await balance(a.id)).toMatchObject({ balance: 10, reserved: 1, activeCalls: 1 });

  // Once Twilio answers, the leg's 125 s are metered: 3 minutes, once.
  twilio.failWith = null;
  const settled = await until(() => balance(a.id), (b) => b.activeCalls === 0, 90_000);
  expect(settled).toMatchObject({ balance: 7, reserved: 0, usedThisCycle: 3 });
  const debits = (await gw.admin('GET', `/v1/accounts/${a.id}/ledger?limit=100`)).json.entries.filter((e: any) => e.kind === 'call_debit');
  expect(debits).toEqual([expect.objectContaining({ ref: call.callSid, billedMinutes: 3 })]);
}, 120_000);

it('leaves a call that is still running at Twilio open, and settles it directly through the reconciler', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 10 });
  const call = await placeSoftphoneCall(gw, a.identity);
  twilio.calls.set(call.callSid, { sid: call.callSid, parent_call_sid: null, status: 'in-progress', duration: null });
  expect(await gw.reconciler.reconcile(a.id, call.callSid)).toBe('still_running');
  expect(await balance(a.id)).toMatchObject({ reserved: 1, activeCalls: 1 });
  // It ended, unanswered: settled at 0, reservation released.
  const leg = callSid();
  twilio.calls.set(call.callSid, { sid: call.callSid, parent_call_sid: null, status: 'completed', duration: '40' });
  twilio.calls.set(leg, { sid: leg, parent_call_sid: call.callSid, status: 'no-answer', duration: null });
  expect(await gw.reconciler.reconcile(a.id, call.callSid)).toBe('settled');
  expect(await balance(a.id)).toMatchObject({ balance: 10, reserved: 0, activeCalls: 0 });
  // A late real signal changes nothing.
  await postAll(gw, [childLegEvent(call.callSid, leg, 3, 'completed', 300)]);
  expect(await balance(a.id)).toMatchObject({ balance: 10, reserved: 0 });
  expect(await gw.reconciler.reconcile(a.id, call.callSid)).toBe('already_final');
});
