// Issue #8 item 5: a decision about a CallSid is final. A replayed, correctly signed
// /twilio/voice for a refused CallSid is refused again for at least 24 h, whatever
// happened to the pool meanwhile; a replayed allowed one gets the same <Dial> and
// reserves nothing, also after the call ended.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountKeys } from '../src/redis/keys.js';
import { callSid, createAccount, startTestGateway, type TestGateway } from './support/gateway.js';
import { answeredCallSignals, postAll } from './support/calls.js';

let gw: TestGateway;
beforeAll(async () => {
  // A 1 s authorization TTL: the denial must outlive it by far.
  gw = await startTestGateway({ env: { AUTHORIZATION_TTL_SECONDS: '1' } });
});
afterAll(async () => {
  await gw.stop();
});

const balance = async (id: string) => (await gw.admin('GET', `/v1/accounts/${id}/balance`)).json;
const voiceParams = (sid: string, identity: string) => ({
  CallSid: sid,
  From: `client:${identity}`,
  To: '+14155550100',
  CallStatus: 'ringing',
  Direction: 'inbound',
});

describe('a decision about a CallSid is final', () => {
  it('a refused CallSid is refused again after minutes were added and the authorization TTL passed', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 0 });
    const sid = callSid();
    const first = await gw.twilio('/twilio/voice', voiceParams(sid, a.identity));
    expect(first.text).toMatch(/<Response><Reject/);
    expect((await gw.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: 50, reason: 'top-up' })).status).toBe(201);
    await new Promise((r) => setTimeout(r, 1500));
    const replay = await gw.twilio('/twilio/voice', voiceParams(sid, a.identity));
    expect(replay.text).toMatch(/<Response><Reject/);
    expect(await balance(a.id)).toMatchObject({ balance: 50, reserved: 0, activeCalls: 0 });
    // The refusal is remembered for at least 24 hours.
    const ttl = await gw.redis.pttl(accountKeys(gw.config.redis.prefix, a.id).call(sid));
    expect(ttl).toBeGreaterThan(24 * 3600_000 - 60_000);
    // A new call gets a fresh decision.
    expect((await gw.twilio('/twilio/voice', voiceParams(callSid(), a.identity))).text).toContain('<Dial');
  });

  it('an allowed CallSid replayed gets the same <Dial> without reserving again, also after the call ended', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 1 });
    const sid = callSid();
    const first = await gw.twilio('/twilio/voice', voiceParams(sid, a.identity));
    expect(first.text).toContain('<Dial');
    // The pool is now empty (its one minute is reserved): the replay is still allowed.
    const replay = await gw.twilio('/twilio/voice', voiceParams(sid, a.identity));
    expect(replay.text).toBe(first.text);
    expect(await balance(a.id)).toMatchObject({ balance: 1, reserved: 1, activeCalls: 1 });
    await postAll(gw, answeredCallSignals(sid, 50));
    expect(await balance(a.id)).toMatchObject({ balance: 0, reserved: 0, activeCalls: 0, usedThisCycle: 1 });
    const late = await gw.twilio('/twilio/voice', voiceParams(sid, a.identity));
    expect(late.text).toBe(first.text);
    expect(await balance(a.id)).toMatchObject({ balance: 0, reserved: 0, activeCalls: 0, usedThisCycle: 1 });
    const ledger = (await gw.admin('GET', `/v1/accounts/${a.id}/ledger?limit=50`)).json.entries;
    expect(ledger.filter((e: any) => e.kind === 'call_debit')).toHaveLength(1);
  });
});
