// The admin and account API as an operator and a staff member use it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from './support/calls.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw.stop();
});

const uid = () => `api${Math.random().toString(36).slice(2, 9)}`;

describe('accounts', () => {
  it('creates an account with a full pool, staff and numbers; a second create is 409', async () => {
    const id = uid();
    const body = {
      id,
      name: 'Acme Plumbing',
      monthlyMinutes: 500,
      billingAnchor: '2026-01-31T10:00:00Z',
      staff: [{ id: 'alice', email: 'alice@acme.example', identity: `${id}_alice` }],
      phoneNumbers: ['+14155550142'.replace('0142', String(Math.floor(Math.random() * 9000) + 1000))],
    };
    const r = await gw.admin('POST', '/v1/accounts', body);
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({
      id,
      name: 'Acme Plumbing',
      monthlyMinutes: 500,
      billingAnchor: '2026-01-31T10:00:00.000Z',
      inboundWhenExhausted: 'allow',
      staff: body.staff,
      phoneNumbers: body.phoneNumbers,
      balance: { accountId: id, balance: 500, reserved: 0, available: 500, usedThisCycle: 0, overageThisCycle: 0, activeCalls: 0 },
    });
    // The anchor lies in the past: the current cycle is the one containing now.
    const { cycleStart, cycleEnd } = r.json.balance;
    expect(Date.parse(cycleStart)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(cycleEnd)).toBeGreaterThan(Date.now());
    expect(cycleStart.slice(11)).toBe('10:00:00.000Z');

    expect((await gw.admin('POST', '/v1/accounts', body)).status).toBe(409);
    const dupIdentity = await gw.admin('POST', '/v1/accounts', { ...body, id: uid(), phoneNumbers: [] });
    expect(dupIdentity.status).toBe(409);
    expect(dupIdentity.json.error.code).toBe('IDENTITY_TAKEN');
    const dupNumber = await gw.admin('POST', '/v1/accounts', { ...body, id: uid(), staff: [] });
    expect(dupNumber.json.error.code).toBe('NUMBER_TAKEN');
  });

  it('anchors at now by default; a staff token reads its own account only; admin-only routes refuse staff', async () => {
    const id = uid();
    const r = await gw.admin('POST', '/v1/accounts', { id, name: 'Solo', monthlyMinutes: 60 });
    expect(r.status).toBe(201);
    expect(Math.abs(Date.parse(r.json.billingAnchor) - Date.now())).toBeLessThan(5000);
    expect(r.json.balance.cycleStart).toBe(r.json.billingAnchor);

    const staff = await gw.admin('POST', `/v1/accounts/${id}/staff`, { id: 'bob', email: 'bob@solo.example', identity: `${id}_bob` });
    expect(staff.status).toBe(201);
    expect((await gw.admin('POST', `/v1/accounts/${id}/staff`, { id: 'bob', email: 'b@x.example', identity: `${id}_bob2` })).status).toBe(409);
    const nums = await gw.admin('POST', `/v1/accounts/${id}/numbers`, { phoneNumbers: ['+15005550006'.replace('0006', String(Date.now() % 9000 + 1000))] });
    expect(nums.status).toBe(201);
    expect(nums.json.phoneNumbers).toHaveLength(1);

    const tok = await gw.admin('POST', `/v1/accounts/${id}/staff/bob/token`);
    expect(tok.status).toBe(201);
    expect(Date.parse(tok.json.expiresAt)).toBeGreaterThan(Date.now());
    expect((await gw.admin('POST', `/v1/accounts/${id}/staff/nobody/token`)).status).toBe(404);

    const mine = await gw.as(tok.json.token, 'GET', `/v1/accounts/${id}/balance`);
    expect(mine.status).toBe(200);
    expect(mine.json).toEqual({
      accountId: id,
      balance: 60,
      reserved: 0,
      available: 60,
      planMinutes: 60,
      addonMinutes: 0,
      monthlyMinutes: 60,
      usedThisCycle: 0,
      overageThisCycle: 0,
      activeCalls: 0,
      cycleStart: r.json.balance.cycleStart,
      cycleEnd: r.json.balance.cycleEnd,
      version: 1,
    });
    expect((await gw.as(tok.json.token, 'GET', `/v1/accounts/${id}`)).json.staff).toHaveLength(1);
    expect((await gw.as(tok.json.token, 'POST', `/v1/accounts/${id}/adjustments`, { minutes: 5, reason: 'x' })).status).toBe(403);
    expect((await gw.as(tok.json.token, 'POST', '/v1/accounts', { id: uid(), name: 'x', monthlyMinutes: 1 })).status).toBe(403);
    expect((await gw.as(tok.json.token, 'POST', `/v1/accounts/${id}/staff/bob/token`)).status).toBe(403);
    // Voice tokens need the Twilio API key settings, which this gateway lacks.
    const vt = await gw.as(tok.json.token, 'POST', `/v1/accounts/${id}/voice-token`);
    expect(vt.status).toBe(503);
    expect(vt.json.error.code).toBe('NOT_CONFIGURED');
  });
});

describe('history', () => {
  it('pages the ledger in order and lists calls by state', async () => {
    const id = uid();
    const identity = `${id}_c`;
    await gw.admin('POST', '/v1/accounts', { id, name: 'Hist', monthlyMinutes: 100, staff: [{ id: 'c', email: 'c@h.example', identity }] });
    for (let i = 0; i < 5; i++) {
      await gw.admin('POST', `/v1/accounts/${id}/adjustments`, { minutes: i + 1, reason: `credit ${i}` });
    }
    const p1 = (await gw.admin('GET', `/v1/accounts/${id}/ledger?limit=4`)).json;
    expect(p1.entries.map((e: any) => e.kind)).toEqual(['cycle_reset', 'adjustment', 'adjustment', 'adjustment']);
    expect(p1.entries[1]).toMatchObject({ minutes: 1, balanceAfter: 101, reason: 'credit 0' });
    expect(typeof p1.entries[0].at).toBe('string');
    const p2 = (await gw.admin('GET', `/v1/accounts/${id}/ledger?limit=4&cursor=${p1.nextCursor}`)).json;
    expect(p2.entries.map((e: any) => e.minutes)).toEqual([4, 5]);
    expect(p2.nextCursor).toBeNull();
    const desc = (await gw.admin('GET', `/v1/accounts/${id}/ledger?limit=1&order=desc`)).json;
    expect(desc.entries[0]).toMatchObject({ minutes: 5, balanceAfter: 115 });

    const calls = [];
    for (let i = 0; i < 3; i++) calls.push(await placeSoftphoneCall(gw, identity));
    await postAll(gw, answeredCallSignals(calls[0]!.callSid, 45));
    const active = (await gw.admin('GET', `/v1/accounts/${id}/calls?state=active`)).json;
    expect(active.calls.map((c: any) => c.callSid).sort()).toEqual([calls[1]!.callSid, calls[2]!.callSid].sort());
    expect(active.calls[0]).toMatchObject({ state: 'active', direction: 'outbound', from: `client:${identity}`, to: '+14155550100', staffId: 'c', reservedMinutes: 1, billableSeconds: null, billedMinutes: null, endedAt: null });
    const ended = (await gw.admin('GET', `/v1/accounts/${id}/calls?state=ended`)).json;
    expect(ended.calls).toEqual([
      expect.objectContaining({ callSid: calls[0]!.callSid, state: 'ended', billableSeconds: 45, billedMinutes: 1 }),
    ]);
    const all = (await gw.admin('GET', `/v1/accounts/${id}/calls`)).json;
    expect(all.calls.map((c: any) => c.callSid).sort()).toEqual(calls.map((c) => c.callSid).sort());
    expect(all.calls[0].callSid).toBe(calls[0]!.callSid); // ended last: the newest activity
    const page1 = (await gw.admin('GET', `/v1/accounts/${id}/calls?state=active&limit=1`)).json;
    const page2 = (await gw.admin('GET', `/v1/accounts/${id}/calls?state=active&limit=1&cursor=${encodeURIComponent(page1.nextCursor)}`)).json;
    expect(page1.calls).toHaveLength(1);
    expect(page2.calls).toHaveLength(1);
    expect(page2.calls[0].callSid).not.toBe(page1.calls[0].callSid);
    expect(page2.nextCursor).toBeNull();
  });
});

it('exposes Prometheus metrics', async () => {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  expect(text).toContain('# TYPE minutegate_call_authorizations_total counter');
});

it('takes a billing anchor as an ISO instant, a date or epoch ms, and ignores unknown fields', async () => {
  for (const [anchor, iso] of [
    ['2026-03-31T08:30:00+02:00', '2026-03-31T06:30:00.000Z'],
    ['2026-01-31', '2026-01-31T00:00:00.000Z'],
    [Date.UTC(2025, 11, 15, 12), '2025-12-15T12:00:00.000Z'],
  ] as const) {
    const id = uid();
    const r = await gw.admin('POST', '/v1/accounts', { id, name: 'Anchored', monthlyMinutes: 10, billingAnchor: anchor, plan: 'pro' });
    expect(r.status).toBe(201);
    expect(r.json.billingAnchor).toBe(iso);
  }
});

it('keeps a staff member\'s display name (optional) and refuses an empty one, naming the field', async () => {
  const id = uid();
  const created = await gw.admin('POST', '/v1/accounts', {
    id,
    name: 'Acme',
    monthlyMinutes: 10,
    staff: [{ id: 'alice', email: 'alice@acme.test', identity: `${id}-alice`, name: 'Alice Liddell' }],
  });
  expect(created.status, JSON.stringify(created.json)).toBe(201);
  const bad = await gw.admin('POST', `/v1/accounts/${id}/staff`, { id: 'bob', email: 'bob@acme.test', identity: `${id}-bob`, name: '  ' });
  expect(bad.status).toBe(400);
  expect(bad.json.error.code).toBe('VALIDATION_FAILED');
  expect(bad.json.error.message).toMatch(/name/);
  expect((await gw.admin('POST', `/v1/accounts/${id}/staff`, { id: 'bob', email: 'bob@acme.test', identity: `${id}-bob` })).status).toBe(201);
  const staff = (await gw.admin('GET', `/v1/accounts/${id}/staff`)).json.staff;
  expect(staff).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ id: 'alice', name: 'Alice Liddell' }),
      expect.not.objectContaining({ name: expect.anything() }),
    ]),
  );
});
