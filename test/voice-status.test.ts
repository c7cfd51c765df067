import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callSid, createAccount, startTestGateway, type TestGateway } from './support/gateway.js';
import {
  answeredCallSignals,
  childLegEvent,
  dialAction,
  parentEvent,
  placeInboundCall,
  placeSoftphoneCall,
  postAll,
} from './support/calls.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw.stop();
});

const balance = async (id: string) => (await gw.admin('GET', `/v1/accounts/${id}/balance`)).json;
const ledger = async (id: string) => (await gw.admin('GET', `/v1/accounts/${id}/ledger?limit=500`)).json.entries;

describe('/twilio/voice', () => {
  it('allows a softphone call with a <Dial> whose noun reports every status, and reserves a minute', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const call = await placeSoftphoneCall(gw, a.identity, '+14155550100');
    expect(call.status).toBe(200);
    expect(call.twiml).toMatch(/^<\?xml/);
    // The call's callbacks name its account (no CallSid look-up when they come).
    expect(call.twiml).toContain(`<Dial action="https://gw.example.test/twilio/status?a=${a.id}"`);
    expect(call.twiml).toContain(
      `<Number statusCallback="https://gw.example.test/twilio/status?a=${a.id}" statusCallbackEvent="initiated ringing answered completed" statusCallbackMethod="POST">+14155550100</Number>`,
    );
    expect(call.twiml).toContain(`callerId="${a.number}"`);
    expect(call.twiml).not.toMatch(/timeLimit/i);
    const b = await balance(a.id);
    expect(b).toMatchObject({ balance: 10, reserved: 1, available: 9, activeCalls: 1 });
  });

  it("dials another softphone of the account with <Client>", async () => {
    const a = await createAccount(gw);
    expect((await gw.admin('POST', `/v1/accounts/${a.id}/staff`, { id: 'bob', email: 'bob@x.example', identity: `${a.id}_bob` })).status).toBe(201);
    const call = await placeSoftphoneCall(gw, a.identity, `client:${a.id}_bob`);
    expect(call.twiml).toContain(`>${a.id}_bob</Client>`);
  });

  it('answers a repeated webhook for the same CallSid with the same decision and no second reservation', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 5 });
    const sid = callSid();
    const params = { CallSid: sid, From: `client:${a.identity}`, To: '+14155550100', CallStatus: 'ringing', Direction: 'inbound' };
    const r1 = await gw.twilio('/twilio/voice', params);
    const r2 = await gw.twilio('/twilio/voice', params);
    expect(r1.text).toBe(r2.text);
    expect((await balance(a.id)).reserved).toBe(1);
  });

  it('rejects (as the first verb) an unknown caller, an unknown number and a pool without minutes', async () => {
    const unknownCaller = await placeSoftphoneCall(gw, 'nobody_here');
    expect(unknownCaller.twiml).toMatch(/<Response><Reject/);
    const unknownNumber = await placeInboundCall(gw, '+15550000001');
    expect(unknownNumber.twiml).toMatch(/<Response><Reject/);

    const a = await createAccount(gw, { monthlyMinutes: 1 });
    expect((await placeSoftphoneCall(gw, a.identity)).allowed).toBe(true);
    const second = await placeSoftphoneCall(gw, a.identity);
    expect(second.twiml).toMatch(/<Response><Reject/);
    expect(await balance(a.id)).toMatchObject({ balance: 1, reserved: 1, activeCalls: 1 });
  });

  it('rings the staff softphones for an inbound call; on an empty pool follows inboundWhenExhausted', async () => {
    const allow = await createAccount(gw, { monthlyMinutes: 0 });
    const inAllowed = await placeInboundCall(gw, allow.number);
    expect(inAllowed.twiml).toContain(`>${allow.identity}</Client>`);
    const reject = await createAccount(gw, { monthlyMinutes: 0, inboundWhenExhausted: 'reject' });
    expect((await placeInboundCall(gw, reject.number)).twiml).toMatch(/<Response><Reject/);
    // Outbound calls are refused on the empty pool either way.
    expect((await placeSoftphoneCall(gw, allow.identity)).allowed).toBe(false);
  });
});

describe('/twilio/status', () => {
  it('debits the answered leg once, rounded up, and releases the reservation', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const call = await placeSoftphoneCall(gw, a.identity);
    const statuses = await postAll(gw, answeredCallSignals(call.callSid, 61));
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(await balance(a.id)).toMatchObject({ balance: 8, reserved: 0, activeCalls: 0, usedThisCycle: 2 });
    const debits = (await ledger(a.id)).filter((e: any) => e.kind === 'call_debit');
    expect(debits).toHaveLength(1);
    expect(debits[0]).toMatchObject({ minutes: -2, balanceAfter: 8, ref: call.callSid, billedMinutes: 2 });
    const calls = (await gw.admin('GET', `/v1/accounts/${a.id}/calls?state=ended`)).json.calls;
    expect(calls[0]).toMatchObject({ callSid: call.callSid, state: 'ended', billableSeconds: 61, billedMinutes: 2, staffId: 'alice' });
  });

  it('answers 200 with an empty <Response/> and charges nothing for calls of 30 s or less', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const call = await placeSoftphoneCall(gw, a.identity);
    const res = await gw.twilio('/twilio/status', dialAction(call.callSid, callSid(), 'completed', 30));
    expect(res.status).toBe(200);
    expect(res.text).toContain('<Response/>');
    expect(await balance(a.id)).toMatchObject({ balance: 10, reserved: 0, usedThisCycle: 0 });
  });

  it('does not charge a call nobody answered, however long it rang', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const call = await placeSoftphoneCall(gw, a.identity);
    const child = callSid();
    await postAll(gw, [
      childLegEvent(call.callSid, child, 0, 'initiated'),
      childLegEvent(call.callSid, child, 1, 'ringing'),
      childLegEvent(call.callSid, child, 2, 'no-answer', 0),
      dialAction(call.callSid, child, 'no-answer', 0),
      parentEvent(call.callSid, null, 'completed', 65),
    ]);
    expect(await balance(a.id)).toMatchObject({ balance: 10, reserved: 0, activeCalls: 0 });
  });

  it('waits when the parent ends before its dialled leg reported, then meters the leg', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const call = await placeSoftphoneCall(gw, a.identity);
    const child = callSid();
    await postAll(gw, [parentEvent(call.callSid, null, 'completed', 200)]);
    expect(await balance(a.id)).toMatchObject({ balance: 10, reserved: 1, activeCalls: 1 });
    await postAll(gw, [childLegEvent(call.callSid, child, 3, 'completed', 125)]);
    expect(await balance(a.id)).toMatchObject({ balance: 7, reserved: 0, activeCalls: 0 });
  });

  it('meters a final signal that arrives before any "started" and ignores what comes after', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const call = await placeSoftphoneCall(gw, a.identity);
    const child = callSid();
    await postAll(gw, [dialAction(call.callSid, child, 'completed', 90)]);
    const after = await balance(a.id);
    expect(after).toMatchObject({ balance: 8, reserved: 0 });
    await postAll(gw, [
      childLegEvent(call.callSid, child, 0, 'initiated'),
      childLegEvent(call.callSid, child, 2, 'in-progress'),
      childLegEvent(call.callSid, child, 3, 'completed', 500),
      dialAction(call.callSid, child, 'completed', 500),
      parentEvent(call.callSid, null, 'completed', 600),
    ]);
    expect(await balance(a.id)).toEqual(after);
  });

  it('acknowledges signals about calls it never placed without changing anything', async () => {
    const res = await gw.twilio('/twilio/status', parentEvent(callSid(), 3, 'completed', 100));
    expect(res.status).toBe(200);
  });
});

describe('never cut off (R3)', () => {
  it('lets a 2-hour call finish on a 1-minute pool, books the overage, refuses the next call until a credit', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 1 });
    const call = await placeSoftphoneCall(gw, a.identity);
    expect(call.allowed).toBe(true);
    expect(call.twiml).not.toMatch(/timeLimit/i);
    await postAll(gw, answeredCallSignals(call.callSid, 7200));
    expect(await balance(a.id)).toMatchObject({ balance: 0, reserved: 0, usedThisCycle: 120, overageThisCycle: 119 });
    const debit = (await ledger(a.id)).find((e: any) => e.kind === 'call_debit');
    expect(debit).toMatchObject({ minutes: -1, billedMinutes: 120, overageMinutes: 119, balanceAfter: 0 });

    const next = await placeSoftphoneCall(gw, a.identity);
    expect(next.twiml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?><Response><Reject/);

    const credit = await gw.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: 5, reason: 'goodwill' });
    expect(credit.status).toBe(201);
    expect((await placeSoftphoneCall(gw, a.identity)).allowed).toBe(true);
  });
});

describe('lenient where Twilio fixtures are terse', () => {
  it('takes short CallSids and a parent completion without CallDuration', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const sid = `CA${Date.now().toString(36)}`;
    const v = await gw.twilio('/twilio/voice', { CallSid: sid, From: `client:${a.identity}`, To: '+14155550100' });
    expect(v.text).toContain('<Dial');
    const child = `CAc${Date.now().toString(36)}`;
    const statuses = await postAll(gw, [
      { CallSid: child, ParentCallSid: sid, CallStatus: 'completed', CallDuration: '90' },
      { CallSid: sid, CallStatus: 'completed' },
    ]);
    expect(statuses).toEqual([200, 200]);
    expect(await balance(a.id)).toMatchObject({ balance: 8, reserved: 0, activeCalls: 0 });
  });
});
