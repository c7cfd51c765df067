// Issue #20: a call refused at placement is kept for the history — not connected, and
// why — written to the books within a second, off the webhook's path, and listed on its
// own (GET …/calls?state=refused), newest first with a cursor; the default list is
// unchanged.
import { expect, it } from 'vitest';
import { placeSoftphoneCall } from './support/calls.js';
import { waitFor } from './support/billing.js';
import { gatewaysPerTest, uniquePrefix } from './support/gateway.js';

const gateway = gatewaysPerTest();

it('lists calls refused for lack of minutes, with the reason, paged newest first; the default list leaves them out', async () => {
  const gw = await gateway();
  const r = await gw.admin('POST', '/v1/accounts', {
    id: 'acme',
    name: 'Acme',
    monthlyMinutes: 0,
    staff: [{ id: 'alice', email: 'alice@acme.test', identity: 'acme-alice' }],
  });
  expect(r.status).toBe(201);
  const sids: string[] = [];
  for (const to of ['+14155550101', '+14155550102', '+14155550103']) {
    const placed = await placeSoftphoneCall(gw, 'acme-alice', to);
    expect(placed.allowed).toBe(false);
    sids.push(placed.callSid);
  }

  const first = await waitFor(async () => {
    const page = await gw.admin('GET', '/v1/accounts/acme/calls?state=refused&limit=2');
    return page.json.calls?.length === 2 ? page : null;
  }, 5000);
  expect(first.status).toBe(200);
  expect(first.json.calls[0]).toMatchObject({
    callSid: sids[2],
    state: 'refused',
    reason: 'no_minutes',
    direction: 'outbound',
    from: 'client:acme-alice',
    to: '+14155550103',
    staffId: 'alice',
    reservedMinutes: 0,
    billedMinutes: null,
  });
  expect(first.json.nextCursor).toEqual(expect.any(String));
  const rest = await gw.admin('GET', `/v1/accounts/acme/calls?state=refused&limit=2&cursor=${encodeURIComponent(first.json.nextCursor)}`);
  expect(rest.json.calls.map((c: { callSid: string }) => c.callSid)).toEqual([sids[0]]);
  expect(rest.json.nextCursor).toBeNull();

  // The calls that were connected are listed as before: none here.
  expect((await gw.admin('GET', '/v1/accounts/acme/calls')).json.calls).toEqual([]);
  // Another account sees none of them; a bad state is named.
  const bad = await gw.admin('GET', '/v1/accounts/acme/calls?state=rejected');
  expect(bad.status).toBe(400);
  expect(bad.json.error.message).toMatch(/state/);
});

it('keeps refusals that wait for the books at a graceful stop (written before the instance exits)', async () => {
  const prefix = uniquePrefix('refused');
  const gw = await gateway({ prefix, keepKeys: true });
  await gw.admin('POST', '/v1/accounts', { id: 'acme', name: 'Acme', monthlyMinutes: 0, staff: [{ id: 'alice', email: 'alice@acme.test', identity: 'acme-alice' }] });
  const placed = await placeSoftphoneCall(gw, 'acme-alice', '+14155550104');
  expect(placed.allowed).toBe(false);
  await gw.stop(); // right away: the refusal has not had its second yet
  const again = await gateway({ prefix });
  const page = await again.admin('GET', '/v1/accounts/acme/calls?state=refused');
  expect(page.json.calls.map((c: { callSid: string }) => c.callSid)).toEqual([placed.callSid]);
});
