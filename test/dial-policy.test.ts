// R17 dialling policy (issue #8 item 6): emergency numbers always connect, reserve nothing
// and are never debited; premium-rate prefixes are refused, on the webhook and the socket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, startTestGateway, type TestGateway } from './support/gateway.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from './support/calls.js';
import { openSocket, wsUrl } from './support/ws-client.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw.stop();
});

const balance = async (id: string) => (await gw.admin('GET', `/v1/accounts/${id}/balance`)).json;
const ledger = async (id: string) => (await gw.admin('GET', `/v1/accounts/${id}/ledger?limit=50`)).json.entries;
const tokenOf = async (id: string) => (await gw.admin('POST', `/v1/accounts/${id}/staff/alice/token`)).json.token as string;

describe('emergency numbers', () => {
  it('connect on an empty pool as a <Number>, reserve nothing and are never debited', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 0 });
    expect((await placeSoftphoneCall(gw, a.identity, '+14155550100')).allowed).toBe(false);
    const call = await placeSoftphoneCall(gw, a.identity, '911');
    expect(call.twiml).toContain('<Dial');
    expect(call.twiml).toMatch(/<Number [^>]*>911<\/Number>/);
    expect(call.twiml).not.toContain('<Client');
    expect(await balance(a.id)).toMatchObject({ balance: 0, reserved: 0, activeCalls: 1 });
    await postAll(gw, answeredCallSignals(call.callSid, 600));
    expect(await balance(a.id)).toMatchObject({ balance: 0, reserved: 0, activeCalls: 0, usedThisCycle: 0, overageThisCycle: 0 });
    const debit = (await ledger(a.id)).find((e: any) => e.kind === 'call_debit');
    expect(debit).toMatchObject({ ref: call.callSid, minutes: 0, billedMinutes: 0, overageMinutes: 0, emergency: true });
    const view = (await gw.admin('GET', `/v1/accounts/${a.id}/calls/${call.callSid}`)).json;
    expect(view).toMatchObject({ state: 'ended', reservedMinutes: 0, billedMinutes: 0, debitedMinutes: 0 });
  });

  it('are recognised with a leading + and from the configured list, and never debit a pool with minutes', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    for (const to of ['+112', '999', '+000']) {
      const call = await placeSoftphoneCall(gw, a.identity, to);
      expect(call.twiml).toMatch(new RegExp(`<Number [^>]*>${to.replace('+', '')}</Number>`));
      await postAll(gw, answeredCallSignals(call.callSid, 300));
    }
    expect(await balance(a.id)).toMatchObject({ balance: 10, reserved: 0, activeCalls: 0, usedThisCycle: 0 });
  });

  it('authorize on the socket for an emergency number is authorized without reserving, and binds', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 0 });
    const s = await openSocket(wsUrl(gw.url), { authorization: `Bearer ${await tokenOf(a.id)}` });
    await s.next((m) => m.type === 'balance');
    s.send({ type: 'authorize', requestId: 'e1', to: '911' });
    const ok = await s.next((m) => m.requestId === 'e1');
    expect(ok).toMatchObject({ type: 'authorized', requestId: 'e1' });
    expect(typeof ok.authorizationId).toBe('string');
    expect(await balance(a.id)).toMatchObject({ reserved: 0, available: 0 });
    const call = await placeSoftphoneCall(gw, a.identity, '911', { authorizationId: ok.authorizationId });
    expect(call.twiml).toMatch(/<Number [^>]*>911<\/Number>/);
    expect(await balance(a.id)).toMatchObject({ reserved: 0, activeCalls: 1 });
    s.close();
  });
});

describe('one dialling decision for the socket and /twilio/voice (issue #16)', () => {
  it('an emergency number is recognised after removing spaces, dashes, dots and parentheses, on both paths', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 0 });
    const s = await openSocket(wsUrl(gw.url), { authorization: `Bearer ${await tokenOf(a.id)}` });
    await s.next((m) => m.type === 'balance');
    for (const [to, digits] of [['911 ', '911'], [' 112', '112'], ['(911)', '911'], ['9-1-1', '911'], ['+1.1.2', '112'], ['+000', '000']]) {
      const call = await placeSoftphoneCall(gw, a.identity, to!);
      expect(call.twiml, to).toMatch(new RegExp(`<Number [^>]*>${digits}</Number>`));
      await postAll(gw, answeredCallSignals(call.callSid, 90));
      s.send({ type: 'authorize', requestId: to, to });
      const ok = await s.next((m) => m.requestId === to);
      expect(ok, to).toMatchObject({ type: 'authorized' });
      // Cancelled, so the six stay under the cap on open authorizations.
      s.send({ type: 'cancel', requestId: `c${to}`, authorizationId: ok.authorizationId });
      expect(await s.next((m) => m.requestId === `c${to}`)).toMatchObject({ type: 'canceled' });
    }
    expect(await balance(a.id)).toMatchObject({ balance: 0, reserved: 0, activeCalls: 0, usedThisCycle: 0, overageThisCycle: 0 });
    s.close();
  });

  it('what one path refuses as no destination the other refuses too', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const s = await openSocket(wsUrl(gw.url), { authorization: `Bearer ${await tokenOf(a.id)}` });
    await s.next((m) => m.type === 'balance');
    for (const to of ['+0123', '(415) 555 0100!', '', '+']) {
      expect((await placeSoftphoneCall(gw, a.identity, to)).allowed, to).toBe(false);
      s.send({ type: 'authorize', requestId: `x${to}`, to });
      expect(await s.next((m) => m.requestId === `x${to}`), to).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED' });
    }
    // A number written with separators is the number itself, and its prefix is checked.
    expect((await placeSoftphoneCall(gw, a.identity, '+1 (415) 555-0100')).twiml).toMatch(/<Number [^>]*>\+14155550100<\/Number>/);
    expect((await placeSoftphoneCall(gw, a.identity, '+1 900 555 0123')).allowed).toBe(false);
    s.send({ type: 'authorize', requestId: 'p', to: '+1.900.555.0123' });
    expect(await s.next((m) => m.requestId === 'p')).toEqual({ type: 'denied', requestId: 'p', reason: 'destination_not_allowed' });
    s.close();
  });
});

describe("another business's softphones (issue #16)", () => {
  const metric = async (decision: string) => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`minutegate_call_authorizations_total{decision="${decision}"}`));
    return line ? Number(line.split(' ').pop()) : 0;
  };

  it("a softphone cannot ring another account's identity, nor one no account has; its own account's it can", async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const b = await createAccount(gw, { monthlyMinutes: 10 });
    expect((await gw.admin('POST', `/v1/accounts/${a.id}/staff`, { id: 'bob', email: 'bob@x.example', identity: `${a.id}_bob` })).status).toBe(201);
    const before = await metric('destination_not_allowed');
    for (const to of [`client:${b.identity}`, b.identity, `client:nobody_${a.id}`]) {
      const call = await placeSoftphoneCall(gw, a.identity, to);
      expect(call.twiml, to).toMatch(/<Response><Reject/);
      expect(call.twiml).not.toContain('<Client');
    }
    expect(await metric('destination_not_allowed')).toBe(before + 3);
    expect(await balance(a.id)).toMatchObject({ reserved: 0, activeCalls: 0 });
    expect(await balance(b.id)).toMatchObject({ reserved: 0, activeCalls: 0 });
    // The same account's softphones ring as before.
    expect((await placeSoftphoneCall(gw, a.identity, `client:${a.id}_bob`)).twiml).toContain(`<Client`);

    const s = await openSocket(wsUrl(gw.url), { authorization: `Bearer ${await tokenOf(a.id)}` });
    await s.next((m) => m.type === 'balance');
    for (const to of [`client:${b.identity}`, b.identity, `client:nobody_${a.id}`]) {
      s.send({ type: 'authorize', requestId: to, to });
      expect(await s.next((m) => m.requestId === to)).toEqual({ type: 'denied', requestId: to, reason: 'destination_not_allowed' });
    }
    expect(await balance(a.id)).toMatchObject({ reserved: 1 }); // the call to bob
    s.send({ type: 'authorize', requestId: 'own', to: `client:${a.id}_bob` });
    expect(await s.next((m) => m.requestId === 'own')).toMatchObject({ type: 'authorized' });
    s.close();
  });
});

describe('premium-rate destinations', () => {
  it('are refused with <Reject> on /twilio/voice, nothing reserved', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    for (const to of ['+19005550123', '+19765550123', '+882123456789', '+883123456789']) {
      const call = await placeSoftphoneCall(gw, a.identity, to);
      expect(call.twiml).toMatch(/<Response><Reject/);
    }
    expect(await balance(a.id)).toMatchObject({ reserved: 0, available: 10, activeCalls: 0 });
    // Ordinary numbers still go through.
    expect((await placeSoftphoneCall(gw, a.identity, '+14155550100')).allowed).toBe(true);
  });

  it('are denied on the socket with destination_not_allowed, nothing reserved', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const s = await openSocket(wsUrl(gw.url), { authorization: `Bearer ${await tokenOf(a.id)}` });
    await s.next((m) => m.type === 'balance');
    s.send({ type: 'authorize', requestId: 'p1', to: '+19005550123' });
    expect(await s.next((m) => m.requestId === 'p1')).toEqual({ type: 'denied', requestId: 'p1', reason: 'destination_not_allowed' });
    expect(await balance(a.id)).toMatchObject({ reserved: 0, available: 10 });
    s.close();
  });
});

describe('configured lists', () => {
  it('DIAL_DENY_PREFIXES and EMERGENCY_NUMBERS replace the defaults', async () => {
    const other = await startTestGateway({ env: { DIAL_DENY_PREFIXES: '+4420', EMERGENCY_NUMBERS: '5555' } });
    try {
      const a = await createAccount(other, { monthlyMinutes: 0 });
      expect((await placeSoftphoneCall(other, a.identity, '5555')).twiml).toMatch(/<Number [^>]*>5555<\/Number>/);
      await other.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: 5, reason: 'x' });
      expect((await placeSoftphoneCall(other, a.identity, '+442071234567')).allowed).toBe(false);
      expect((await placeSoftphoneCall(other, a.identity, '+19005550123')).allowed).toBe(true);
    } finally {
      await other.stop();
    }
  });

  it('bad lists stop start-up with a line naming the variable', async () => {
    const { loadConfig } = await import('../src/config.js');
    expect(() => loadConfig({ DIAL_DENY_PREFIXES: '1900' })).toThrow(/DIAL_DENY_PREFIXES/);
    expect(() => loadConfig({ EMERGENCY_NUMBERS: '9-1-1' })).toThrow(/EMERGENCY_NUMBERS/);
  });
});
