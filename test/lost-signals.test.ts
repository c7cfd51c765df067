// R14/R15 at the edges: signals Twilio will never resend are acknowledged, whatever their
// content; one identity may ring on several devices; nothing is charged on a guess from an
// incomplete REST record; video participants are reconciled like calls; and no hold lasts
// for ever (the safety net releases it unsettled, its truth is still debited once).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callSid, createAccount, startTestGateway, TEST_AUTH_TOKEN, type TestClock, type TestGateway } from './support/gateway.js';
import { childLegEvent, dialAction, parentEvent, placeInboundCall, placeSoftphoneCall, postAll } from './support/calls.js';
import { startFakeTwilioRest, type FakeTwilioRest } from './support/fake-twilio-rest.js';
import { videoEvent, videoSid as sid } from './support/video.js';

const AC = 'AC0123456789abcdef0123456789abcdef';
const HOUR = 3600_000;

async function ledger(gw: TestGateway, id: string): Promise<any[]> {
  return (await gw.admin('GET', `/v1/accounts/${id}/ledger?limit=200&order=asc`)).json.entries;
}
const balanceOf = async (gw: TestGateway, id: string) => (await gw.admin('GET', `/v1/accounts/${id}/balance`)).json;
const replays = (entries: any[]) => entries.reduce((s, e) => s + e.minutes, 0);


describe('without Twilio REST settings (a moved clock, the job ticked by hand)', () => {
  const clock: TestClock = { now: Date.UTC(2031, 4, 10, 9, 0, 0) };
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      clock,
      env: { FINAL_GRACE_SECONDS: '60', RECONCILE_POLL_SECONDS: '3600', MAX_CALL_HOLD_SECONDS: String(2 * 3600) },
    });
  });
  afterAll(() => gw.stop());

  it('acknowledges (200) a completed leg or <Dial action> without a duration and an undocumented status, and settles nothing on them', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const call = await placeSoftphoneCall(gw, a.identity);
    const leg = callSid();
    const noDuration = childLegEvent(call.callSid, leg, 3, 'completed', undefined, clock.now);
    const statuses = await postAll(gw, [
      childLegEvent(call.callSid, leg, 2, 'in-progress', undefined, clock.now),
      noDuration,
      { ...dialAction(call.callSid, leg, 'completed', 0), DialCallDuration: '' },
      { ...parentEvent(call.callSid, 5, 'exploded') },
      { ...dialAction(call.callSid, leg, 'meh', 10) },
      parentEvent(call.callSid, null, 'completed', 200),
    ]);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    // Recorded, not guessed: the call is open with its minute reserved, nothing debited.
    expect(await balanceOf(gw, a.id)).toMatchObject({ balance: 10, reserved: 1, activeCalls: 1, usedThisCycle: 0 });
    // The final grace passes: an answered leg without its talk time is still not guessed.
    clock.now += 61_000;
    await gw.reconciler.tick();
    expect(await balanceOf(gw, a.id)).toMatchObject({ balance: 10, reserved: 1, activeCalls: 1 });
    // The first duration that arrives for that leg settles it, once.
    await postAll(gw, [childLegEvent(call.callSid, leg, 4, 'completed', 125, clock.now)]);
    expect(await balanceOf(gw, a.id)).toMatchObject({ balance: 7, reserved: 0, activeCalls: 0, usedThisCycle: 3 });
    const debits = (await ledger(gw, a.id)).filter((e) => e.kind === 'call_debit');
    expect(debits).toEqual([expect.objectContaining({ ref: call.callSid, billedMinutes: 3, minutes: -3 })]);
  });

  it('rings one identity on two devices: a canceled leg does not settle the call; the answered one is billed once', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const call = await placeInboundCall(gw, a.number);
    expect(call.allowed).toBe(true);
    // One <Client> noun, two devices: two dialled legs.
    const phone = callSid();
    const laptop = callSid();
    await postAll(gw, [
      childLegEvent(call.callSid, phone, 0, 'initiated', undefined, clock.now),
      childLegEvent(call.callSid, laptop, 0, 'initiated', undefined, clock.now),
      childLegEvent(call.callSid, phone, 1, 'canceled', 0, clock.now),
      parentEvent(call.callSid, null, 'completed', 200),
    ]);
    // Every leg that reported so far is terminal, none answered — but another device may have.
    expect(await balanceOf(gw, a.id)).toMatchObject({ reserved: 1, activeCalls: 1 });
    await postAll(gw, [
      childLegEvent(call.callSid, laptop, 1, 'in-progress', undefined, clock.now),
      childLegEvent(call.callSid, laptop, 2, 'completed', 125, clock.now),
    ]);
    expect(await balanceOf(gw, a.id)).toMatchObject({ balance: 7, reserved: 0, activeCalls: 0, usedThisCycle: 3 });
    await postAll(gw, [dialAction(call.callSid, laptop, 'completed', 125)]);
    expect((await ledger(gw, a.id)).filter((e) => e.kind === 'call_debit')).toHaveLength(1);
  });

  it('settles a call nobody answered once the final grace has passed after its parent ended, not before', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const call = await placeInboundCall(gw, a.number);
    const phone = callSid();
    await postAll(gw, [
      childLegEvent(call.callSid, phone, 0, 'initiated', undefined, clock.now),
      childLegEvent(call.callSid, phone, 1, 'no-answer', 0, clock.now),
      parentEvent(call.callSid, null, 'completed', 40),
    ]);
    clock.now += 30_000;
    await gw.reconciler.tick();
    expect(await balanceOf(gw, a.id)).toMatchObject({ reserved: 1, activeCalls: 1 });
    clock.now += 31_000;
    await gw.reconciler.tick();
    expect(await balanceOf(gw, a.id)).toMatchObject({ balance: 10, reserved: 0, activeCalls: 0, usedThisCycle: 0 });
    expect((await ledger(gw, a.id)).filter((e) => e.kind === 'call_debit')).toEqual([
      expect.objectContaining({ ref: call.callSid, billedMinutes: 0, minutes: 0 }),
    ]);
  });

  it('releases a hold older than MAX_CALL_HOLD_SECONDS without a debit, marks the call unsettled, and debits its late truth once', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 1 });
    const call = await placeSoftphoneCall(gw, a.identity);
    expect(call.allowed).toBe(true);
    // Every signal of the call is lost; the pool is locked: the next call is refused.
    expect((await placeSoftphoneCall(gw, a.identity)).allowed).toBe(false);

    clock.now += 2 * HOUR - 1000;
    await gw.reconciler.tick();
    expect(await balanceOf(gw, a.id)).toMatchObject({ reserved: 1, activeCalls: 1 });
    clock.now += 2000;
    await gw.reconciler.tick();
    expect(await balanceOf(gw, a.id)).toMatchObject({ balance: 1, reserved: 0, activeCalls: 0, usedThisCycle: 0 });
    const released = (await ledger(gw, a.id)).filter((e) => e.kind === 'hold_released');
    expect(released).toEqual([expect.objectContaining({ ref: call.callSid, minutes: 0, releasedMinutes: 1 })]);
    const listed = (await gw.admin('GET', `/v1/accounts/${a.id}/calls/${call.callSid}`)).json;
    expect(listed).toMatchObject({ callSid: call.callSid, state: 'unsettled' });
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/^minutegate_unsettled_calls 1$/m);
    // The account is no longer locked out.
    expect((await placeSoftphoneCall(gw, a.identity)).allowed).toBe(true);

    // Twilio's truth arrives late: debited then, once; no reservation is released twice.
    const leg = callSid();
    await postAll(gw, [
      childLegEvent(call.callSid, leg, 3, 'completed', 125, clock.now),
      dialAction(call.callSid, leg, 'completed', 125),
      dialAction(call.callSid, leg, 'completed', 125),
    ]);
    const after = await balanceOf(gw, a.id);
    expect(after).toMatchObject({ balance: 0, reserved: 1, activeCalls: 1, usedThisCycle: 3, overageThisCycle: 2 });
    const entries = await ledger(gw, a.id);
    expect(entries.filter((e) => e.kind === 'call_debit')).toEqual([expect.objectContaining({ ref: call.callSid, billedMinutes: 3 })]);
    expect(replays(entries)).toBe(after.balance);
    expect((await gw.admin('GET', `/v1/accounts/${a.id}/calls/${call.callSid}`)).json).toMatchObject({ state: 'ended', billedMinutes: 3 });
    await gw.reconciler.tick();
    expect(await (await fetch(`${gw.url}/metrics`)).text()).toMatch(/^minutegate_unsettled_calls 0$/m);
  });

  it('releases a video participant whose disconnect was lost, and meters its late disconnect once', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 5 });
    const room = sid('RM');
    const p = sid('PA');
    expect((await gw.twilio('/twilio/video/status', videoEvent('participant-connected', room, p, a.identity))).status).toBe(200);
    expect(await balanceOf(gw, a.id)).toMatchObject({ reserved: 1, activeCalls: 1 });
    clock.now += 2 * HOUR + 1000;
    await gw.reconciler.tick();
    expect(await balanceOf(gw, a.id)).toMatchObject({ balance: 5, reserved: 0, activeCalls: 0 });
    await gw.twilio('/twilio/video/status', videoEvent('participant-disconnected', room, p, a.identity, 95));
    await gw.twilio('/twilio/video/status', videoEvent('participant-disconnected', room, p, a.identity, 95));
    expect(await balanceOf(gw, a.id)).toMatchObject({ balance: 3, reserved: 0, activeCalls: 0, usedThisCycle: 2 });
  });
});

describe('with Twilio REST (voice and video) at a local fake', () => {
  let twilio: FakeTwilioRest;
  let gw: TestGateway;
  beforeAll(async () => {
    twilio = await startFakeTwilioRest(AC, AC, TEST_AUTH_TOKEN);
    gw = await startTestGateway({
      env: {
        TWILIO_ACCOUNT_SID: AC,
        TWILIO_API_BASE_URL: twilio.url,
        TWILIO_VIDEO_API_BASE_URL: twilio.url,
        FINAL_GRACE_SECONDS: '1',
        RECONCILE_POLL_SECONDS: '3600',
      },
    });
  });
  afterAll(async () => {
    await gw.stop();
    await twilio.close();
  });

  it('settles only a complete record: a completed leg needs its duration, a call that dialled needs its legs', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const call = await placeSoftphoneCall(gw, a.identity);
    twilio.calls.set(call.callSid, { sid: call.callSid, parent_call_sid: null, status: 'completed', duration: '300' });
    // No legs listed yet: "not yet", not "no legs" — and never the parent's 300 s.
    expect(await gw.reconciler.reconcile(a.id, call.callSid)).toBe('incomplete');
    const leg = callSid();
    twilio.calls.set(leg, { sid: leg, parent_call_sid: call.callSid, status: 'completed', duration: null });
    expect(await gw.reconciler.reconcile(a.id, call.callSid)).toBe('incomplete');
    expect(await balanceOf(gw, a.id)).toMatchObject({ balance: 10, reserved: 1, activeCalls: 1 });
    twilio.calls.set(leg, { sid: leg, parent_call_sid: call.callSid, status: 'completed', duration: '61' });
    expect(await gw.reconciler.reconcile(a.id, call.callSid)).toBe('settled');
    expect(await balanceOf(gw, a.id)).toMatchObject({ balance: 8, reserved: 0, activeCalls: 0, usedThisCycle: 2 });
  });

  it('bills nothing of the parent’s own duration when its dialled leg was not answered', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const call = await placeSoftphoneCall(gw, a.identity);
    const leg = callSid();
    twilio.calls.set(call.callSid, { sid: call.callSid, parent_call_sid: null, status: 'completed', duration: '300' });
    twilio.calls.set(leg, { sid: leg, parent_call_sid: call.callSid, status: 'busy', duration: null });
    expect(await gw.reconciler.reconcile(a.id, call.callSid)).toBe('settled');
    expect(await balanceOf(gw, a.id)).toMatchObject({ balance: 10, reserved: 0, usedThisCycle: 0 });
  });

  it('reconciles a video participant whose disconnect was lost from Twilio Video’s Participant resource', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const room = sid('RM');
    const p = sid('PA');
    await gw.twilio('/twilio/video/status', videoEvent('participant-connected', room, p, a.identity));
    twilio.participants.set(`${room}/${p}`, { sid: p, room_sid: room, identity: a.identity, status: 'connected', duration: null });
    expect(await gw.reconciler.reconcile(a.id, p, room)).toBe('still_running');
    twilio.participants.set(`${room}/${p}`, { sid: p, room_sid: room, identity: a.identity, status: 'disconnected', duration: null });
    expect(await gw.reconciler.reconcile(a.id, p, room)).toBe('incomplete');
    twilio.participants.set(`${room}/${p}`, {
      sid: p,
      room_sid: room,
      identity: a.identity,
      status: 'disconnected',
      duration: 95,
      end_time: new Date().toISOString(),
    });
    expect(await gw.reconciler.reconcile(a.id, p, room)).toBe('settled');
    expect(await balanceOf(gw, a.id)).toMatchObject({ balance: 8, reserved: 0, activeCalls: 0, usedThisCycle: 2 });
    expect(twilio.requests.some((u) => u === `/v1/Rooms/${room}/Participants/${p}`)).toBe(true);
  });

  it('a disconnect without ParticipantDuration is acknowledged and left to the queue, which settles it from Twilio', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const room = sid('RM');
    const p = sid('PA');
    await gw.twilio('/twilio/video/status', videoEvent('participant-connected', room, p, a.identity));
    const r = await gw.twilio('/twilio/video/status', videoEvent('participant-disconnected', room, p, a.identity));
    expect(r.status).toBe(200);
    expect(await balanceOf(gw, a.id)).toMatchObject({ reserved: 1, activeCalls: 1 });
    twilio.participants.set(`${room}/${p}`, { sid: p, room_sid: room, identity: a.identity, status: 'disconnected', duration: 31 });
    // Its check is due FINAL_GRACE_SECONDS (1 s) after the disconnect: the queue is ticked
    // until then, and the first tick that finds it due settles it.
    await expect
      .poll(async () => (await gw.reconciler.tick(), balanceOf(gw, a.id)), { timeout: 5_000, interval: 100 })
      .toMatchObject({ balance: 9, reserved: 0, activeCalls: 0, usedThisCycle: 1 });
  });
});
