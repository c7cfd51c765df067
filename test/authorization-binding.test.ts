// Issue #16 item 1 (R21): an authorization binds only a call to the destination it was
// issued for, compared after the same normalization; any other call is decided afresh,
// as if it carried no authorization. So an emergency authorization opens no other call,
// and an authorization for an allowed number cannot carry a refused one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, startTestGateway, type TestGateway } from './support/gateway.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from './support/calls.js';
import { openSocket, wsUrl, type TestSocket } from './support/ws-client.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw.stop();
});

const balance = async (id: string) => (await gw.admin('GET', `/v1/accounts/${id}/balance`)).json;
const connect = async (accountId: string) => {
  const token = (await gw.admin('POST', `/v1/accounts/${accountId}/staff/alice/token`)).json.token as string;
  const s = await openSocket(wsUrl(gw.url), { authorization: `Bearer ${token}` });
  await s.next((m) => m.type === 'balance');
  return s;
};
const authorize = async (s: TestSocket, requestId: string, to: string) => {
  s.send({ type: 'authorize', requestId, to });
  return s.next((m) => m.requestId === requestId && (m.type === 'authorized' || m.type === 'denied'));
};

describe('an authorization binds only its own destination', () => {
  it('an emergency authorization on an empty pool does not open a call to another number', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 0 });
    const s = await connect(a.id);
    expect(await authorize(s, 'n', '+14155550100')).toMatchObject({ type: 'denied', reason: 'no_minutes' });
    const sos = await authorize(s, 'e', '911');
    expect(sos).toMatchObject({ type: 'authorized' });
    const call = await placeSoftphoneCall(gw, a.identity, '+14155550100', { authorizationId: sos.authorizationId });
    expect(call.twiml).toMatch(/<Response><Reject/);
    expect(call.twiml).not.toContain('+14155550100');
    expect(await balance(a.id)).toMatchObject({ balance: 0, reserved: 0, activeCalls: 0, overageThisCycle: 0 });
    // The authorization was not used up by the refused call: it still binds its own number.
    const own = await placeSoftphoneCall(gw, a.identity, '911', { authorizationId: sos.authorizationId });
    expect(own.twiml).toMatch(/<Number [^>]*>911<\/Number>/);
    await postAll(gw, answeredCallSignals(own.callSid, 120));
    expect(await balance(a.id)).toMatchObject({ balance: 0, reserved: 0, activeCalls: 0, usedThisCycle: 0, overageThisCycle: 0 });
    s.close();
  });

  it('an authorization for an allowed number cannot carry a refused (premium-rate) number', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const s = await connect(a.id);
    const ok = await authorize(s, 'o', '+14155550100');
    expect(ok).toMatchObject({ type: 'authorized' });
    const premium = await placeSoftphoneCall(gw, a.identity, '+19005550123', { authorizationId: ok.authorizationId });
    expect(premium.twiml).toMatch(/<Response><Reject/);
    expect(await balance(a.id)).toMatchObject({ reserved: 1, activeCalls: 0 });
    // Its own number still binds it: the minute moves to the call, nothing reserved twice.
    const own = await placeSoftphoneCall(gw, a.identity, '+14155550100', { authorizationId: ok.authorizationId });
    expect(own.allowed).toBe(true);
    expect(await balance(a.id)).toMatchObject({ reserved: 1, activeCalls: 1 });
    s.close();
  });

  it('a call to another ordinary number is checked afresh: it reserves on its own, or is denied no_minutes', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 1 });
    const s = await connect(a.id);
    const ok = await authorize(s, 'o', '+14155550100');
    expect(await balance(a.id)).toMatchObject({ reserved: 1, available: 0 });
    // The pool's only minute is held by the authorization: another number is denied.
    const other = await placeSoftphoneCall(gw, a.identity, '+14155550101', { authorizationId: ok.authorizationId });
    expect(other.allowed).toBe(false);
    expect(await balance(a.id)).toMatchObject({ reserved: 1, activeCalls: 0 });
    await gw.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: 5, reason: 'top-up' });
    const fresh = await placeSoftphoneCall(gw, a.identity, '+14155550101', { authorizationId: ok.authorizationId });
    expect(fresh.allowed).toBe(true);
    // A fresh reservation: the authorization's minute is still held besides the call's.
    expect(await balance(a.id)).toMatchObject({ reserved: 2, activeCalls: 1 });
    s.close();
  });

  it('the comparison is made after normalization: "911 " binds a call to 911, "(911)" to +911', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 0 });
    const s = await connect(a.id);
    for (const [asked, dialled] of [['911 ', '911'], ['(911)', '+911']] as const) {
      const r = await authorize(s, asked, asked);
      expect(r).toMatchObject({ type: 'authorized' });
      const call = await placeSoftphoneCall(gw, a.identity, dialled, { authorizationId: r.authorizationId });
      expect(call.twiml).toMatch(/<Number [^>]*>911<\/Number>/);
    }
    // Both were used up by their calls: 5 more fit under the cap of 5.
    for (let i = 0; i < 5; i++) expect(await authorize(s, `more${i}`, '112')).toMatchObject({ type: 'authorized' });
    s.close();
  });
});
