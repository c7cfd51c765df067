// Who took an inbound call: the staff member whose softphone (a dialled <Client> leg)
// answered it first — the leg Twilio bridges. The call is theirs from then on: its record,
// its "ended" event, the archived row, usage by staff. Nobody answered: unassigned.
import { expect, it } from 'vitest';
import { childLegEvent, dialAction, parentEvent, placeInboundCall, placeSoftphoneCall, postAll } from './support/calls.js';
import { waitFor } from './support/billing.js';
import { callSid, gatewaysPerTest, type TestGateway } from './support/gateway.js';
import { queryBooks } from './support/postgres.js';

const gateway = gatewaysPerTest();
const NUMBER = '+15005550166';

async function account(gw: TestGateway, id: string, number: string) {
  const r = await gw.admin('POST', '/v1/accounts', {
    id,
    name: 'Acme',
    monthlyMinutes: 100,
    staff: [
      { id: 'alice', email: 'alice@acme.test', identity: `${id}-alice` },
      { id: 'bob', email: 'bob@acme.test', identity: `${id}-bob` },
    ],
    phoneNumbers: [number],
  });
  expect(r.status, JSON.stringify(r.json)).toBe(201);
}

/** A <Client> leg's signals as Twilio sends them: To names the identity it rang. */
const leg = (parent: string, child: string, identity: string, seq: number, status: string, seconds?: number) => ({
  ...childLegEvent(parent, child, seq, status, seconds),
  To: `client:${identity}`,
  Called: `client:${identity}`,
});

it('an inbound call is the staff member who answered it; a device that rang and was dropped changes nothing', async () => {
  const gw = await gateway();
  await account(gw, 'acme', NUMBER);
  const placed = await placeInboundCall(gw, NUMBER);
  expect(placed.allowed).toBe(true);
  const p = placed.callSid;
  const bob = callSid();
  const alice = callSid();
  expect(
    (await postAll(gw, [
      leg(p, alice, 'acme-alice', 0, 'initiated'),
      leg(p, bob, 'acme-bob', 0, 'initiated'),
      leg(p, bob, 'acme-bob', 1, 'in-progress'), // bob answers first: Twilio bridges him
      leg(p, alice, 'acme-alice', 1, 'canceled'),
    ])).every((s) => s === 200),
  ).toBe(true);
  expect((await gw.admin('GET', `/v1/accounts/acme/calls/${p}`)).json).toMatchObject({ state: 'active', staffId: 'bob' });
  expect(
    (await postAll(gw, [leg(p, bob, 'acme-bob', 2, 'completed', 95), dialAction(p, bob, 'completed', 95), parentEvent(p, null, 'completed', 100)])).every(
      (s) => s === 200,
    ),
  ).toBe(true);
  expect((await gw.admin('GET', `/v1/accounts/acme/calls/${p}`)).json).toMatchObject({ state: 'ended', staffId: 'bob', billedMinutes: 2 });

  // Nobody answered this one: unassigned.
  const missed = await placeInboundCall(gw, NUMBER);
  const m1 = callSid();
  await postAll(gw, [leg(missed.callSid, m1, 'acme-alice', 0, 'ringing'), leg(missed.callSid, m1, 'acme-alice', 1, 'no-answer'), dialAction(missed.callSid, m1, 'no-answer', 0), parentEvent(missed.callSid, null, 'completed', 20)]);
  expect((await gw.admin('GET', `/v1/accounts/acme/calls/${missed.callSid}`)).json).toMatchObject({ state: 'ended', staffId: null });

  const usage = (await gw.admin('GET', '/v1/accounts/acme/usage?groupBy=staff')).json;
  expect(usage.groups).toEqual([
    { key: 'bob', calls: 1, billableSeconds: 95, billedMinutes: 2 },
    { key: 'unassigned', calls: 1, billableSeconds: 0, billedMinutes: 0 },
  ]);
  const rows = await waitFor(async () => {
    const r = await queryBooks<{ call_sid: string; staff_id: string | null }>(gw.config.postgres.url, 'SELECT call_sid, staff_id FROM calls WHERE account_id = $1 ORDER BY settled_at', ['acme']);
    return r.length === 2 ? r : null;
  }, 5000);
  expect(rows).toEqual([{ call_sid: p, staff_id: 'bob' }, { call_sid: missed.callSid, staff_id: null }]);
});

it("an outbound call stays its caller's, and another account's identity names nobody", async () => {
  const gw = await gateway();
  await account(gw, 'acme', NUMBER);
  await account(gw, 'other', '+15005550167');
  const out = await placeSoftphoneCall(gw, 'acme-alice', '+14155550100');
  const c1 = callSid();
  await postAll(gw, [{ ...childLegEvent(out.callSid, c1, 0, 'in-progress'), To: 'client:acme-bob' }]);
  expect((await gw.admin('GET', `/v1/accounts/acme/calls/${out.callSid}`)).json).toMatchObject({ staffId: 'alice' });

  const inbound = await placeInboundCall(gw, NUMBER);
  const c2 = callSid();
  await postAll(gw, [leg(inbound.callSid, c2, 'other-alice', 0, 'in-progress')]);
  expect((await gw.admin('GET', `/v1/accounts/acme/calls/${inbound.callSid}`)).json).toMatchObject({ staffId: null });
});
