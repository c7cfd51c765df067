// R12: Twilio Video participant minutes draw from the account's one pool.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAccount, startTestGateway, type TestGateway } from './support/gateway.js';
import { videoEvent as event, videoSid as sid } from './support/video.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw.stop();
});

const balance = async (id: string) => (await gw.admin('GET', `/v1/accounts/${id}/balance`)).json;

it('meters a staff participant and the customer in the same room, once each, even on an empty pool', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 2 });
  const room = sid('RM');
  const staff = sid('PA');
  const customer = sid('PA');
  const post = (p: Record<string, string>) => gw.twilio('/twilio/video/status', p);
  expect((await post(event('room-created', room, staff, a.identity))).status).toBe(200);
  expect((await post(event('participant-connected', room, staff, a.identity))).status).toBe(200);
  expect((await post(event('participant-connected', room, customer, 'customer-42'))).status).toBe(200);
  expect(await balance(a.id)).toMatchObject({ reserved: 2, activeCalls: 2 });

  // The customer leaves after 95 s (2 minutes), twice reported; the staff member after 3600 s.
  await post(event('participant-disconnected', room, customer, 'customer-42', 95));
  await post(event('participant-disconnected', room, customer, 'customer-42', 95));
  expect(await balance(a.id)).toMatchObject({ balance: 0, reserved: 1, usedThisCycle: 2 });
  await post(event('participant-disconnected', room, staff, a.identity, 3600));
  expect(await balance(a.id)).toMatchObject({ balance: 0, reserved: 0, activeCalls: 0, usedThisCycle: 62, overageThisCycle: 60 });
  const debits = (await gw.admin('GET', `/v1/accounts/${a.id}/ledger?limit=100`)).json.entries.filter((e: any) => e.kind === 'call_debit');
  expect(debits.map((d: any) => [d.ref, d.billedMinutes])).toEqual([
    [customer, 2],
    [staff, 60],
  ]);
});

it('meters a disconnect that overtakes its connect, charges nothing for 30 s, and ignores rooms of no account', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 10 });
  const room = sid('RM');
  const p1 = sid('PA');
  await gw.twilio('/twilio/video/status', event('participant-disconnected', room, p1, a.identity, 61));
  await gw.twilio('/twilio/video/status', event('participant-connected', room, p1, a.identity));
  expect(await balance(a.id)).toMatchObject({ balance: 8, reserved: 0, activeCalls: 0 });
  const p2 = sid('PA');
  await gw.twilio('/twilio/video/status', event('participant-connected', room, p2, 'guest'));
  await gw.twilio('/twilio/video/status', event('participant-disconnected', room, p2, 'guest', 30));
  expect(await balance(a.id)).toMatchObject({ balance: 8, reserved: 0 });
  const stranger = await gw.twilio('/twilio/video/status', event('participant-disconnected', sid('RM'), sid('PA'), 'nobody', 500));
  expect(stranger.status).toBe(200);
  expect(await balance(a.id)).toMatchObject({ balance: 8 });
});

it('refuses unsigned or malformed video callbacks', async () => {
  const a = await createAccount(gw);
  const e = event('participant-disconnected', sid('RM'), sid('PA'), a.identity, 100);
  expect((await gw.twilio('/twilio/video/status', e, { token: 'wrong' })).status).toBe(403);
  const bad = await gw.twilio('/twilio/video/status', { ...e, ParticipantDuration: 'long' });
  expect(bad.status).toBe(400);
  expect(bad.text).toContain('ParticipantDuration');
  expect(await balance(a.id)).toMatchObject({ balance: 100, reserved: 0 });
});
