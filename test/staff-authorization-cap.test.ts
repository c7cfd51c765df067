// Issue #8 item 2: no staff member can drain the shared pool. At most
// MAX_OPEN_AUTHORIZATIONS_PER_STAFF open authorizations per staff member, decided
// atomically in the script; a staff member whose sockets have all closed (on every
// instance) has them released after AUTHORIZATION_RELEASE_GRACE_SECONDS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, startTestGateway, uniquePrefix, type TestGateway } from './support/gateway.js';
import { placeSoftphoneCall } from './support/calls.js';
import { openSocket, wsUrl, type TestSocket } from './support/ws-client.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ env: { AUTHORIZATION_RELEASE_GRACE_SECONDS: '1' } });
});
afterAll(async () => {
  await gw.stop();
});

const balance = async (g: TestGateway, id: string) => (await g.admin('GET', `/v1/accounts/${id}/balance`)).json;
const tokenOf = async (g: TestGateway, id: string, staff = 'alice') =>
  (await g.admin('POST', `/v1/accounts/${id}/staff/${staff}/token`)).json.token as string;
const connect = async (g: TestGateway, token: string) => {
  const s = await openSocket(wsUrl(g.url), { authorization: `Bearer ${token}` });
  await s.next((m) => m.type === 'balance');
  return s;
};
const authorize = async (s: TestSocket, requestId: string, to = '+14155550100') => {
  s.send({ type: 'authorize', requestId, to });
  return s.next((m) => m.requestId === requestId && (m.type === 'authorized' || m.type === 'denied'));
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(50);
  }
}

describe('per-staff cap on open authorizations', () => {
  it('the sixth open authorization of one staff member is denied with nothing reserved; others are unaffected', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 100 });
    const token = await tokenOf(gw, a.id);
    const [s1, s2] = [await connect(gw, token), await connect(gw, token)];
    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await authorize(i % 2 ? s2 : s1, `r${i}`));
    expect(replies.map((m) => m.type)).toEqual(['authorized', 'authorized', 'authorized', 'authorized', 'authorized']);
    expect(await authorize(s2, 'r5')).toEqual({ type: 'denied', requestId: 'r5', reason: 'too_many_open_authorizations' });
    expect(await balance(gw, a.id)).toMatchObject({ reserved: 5, available: 95 });
    // The same requestId while open is the same authorization, not a new one.
    expect(await authorize(s1, 'r0')).toMatchObject({ type: 'authorized', authorizationId: replies[0].authorizationId });

    // Another staff member of the same account has a cap of their own.
    expect((await gw.admin('POST', `/v1/accounts/${a.id}/staff`, { id: 'bob', email: 'bob@x.example', identity: `${a.id}_bob` })).status).toBe(201);
    const bob = await connect(gw, await tokenOf(gw, a.id, 'bob'));
    expect(await authorize(bob, 'b0')).toMatchObject({ type: 'authorized' });

    // Cancelling one, or binding one to a call, makes room for one more.
    s1.send({ type: 'cancel', authorizationId: replies[0].authorizationId });
    await s1.next((m) => m.type === 'balance' && m.reserved === 5);
    expect(await authorize(s1, 'r6')).toMatchObject({ type: 'authorized' });
    expect(await authorize(s1, 'r7')).toMatchObject({ type: 'denied', reason: 'too_many_open_authorizations' });
    expect((await placeSoftphoneCall(gw, a.identity, '+14155550100', { authorizationId: replies[1].authorizationId })).allowed).toBe(true);
    expect(await authorize(s1, 'r8')).toMatchObject({ type: 'authorized' });
    expect(await balance(gw, a.id)).toMatchObject({ reserved: 7 }); // 5 open + bob's + the call's
    for (const s of [s1, s2, bob]) s.close();
  });

  it('is decided atomically: 40 concurrent requests over 4 sockets open exactly 5', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 100 });
    const token = await tokenOf(gw, a.id);
    const sockets = await Promise.all([0, 1, 2, 3].map(() => connect(gw, token)));
    const replies = await Promise.all(
      sockets.flatMap((s, i) => Array.from({ length: 10 }, (_, j) => authorize(s, `c${i}-${j}`))),
    );
    expect(replies.filter((m) => m.type === 'authorized')).toHaveLength(5);
    expect(replies.filter((m) => m.reason === 'too_many_open_authorizations')).toHaveLength(35);
    expect(await balance(gw, a.id)).toMatchObject({ reserved: 5 });
    for (const s of sockets) s.close();
  });

  it('expired authorizations leave the count', async () => {
    const clock = { now: Date.now() };
    const other = await startTestGateway({ clock });
    try {
      const a = await createAccount(other, { monthlyMinutes: 100 });
      const s = await connect(other, await tokenOf(other, a.id));
      for (let i = 0; i < 5; i++) expect((await authorize(s, `e${i}`)).type).toBe('authorized');
      expect((await authorize(s, 'e5')).reason).toBe('too_many_open_authorizations');
      clock.now += 61_000; // past AUTHORIZATION_TTL_SECONDS: swept by the next script
      for (let i = 0; i < 5; i++) expect((await authorize(s, `f${i}`)).type).toBe('authorized');
      expect((await authorize(s, 'f5')).reason).toBe('too_many_open_authorizations');
      expect(await balance(other, a.id)).toMatchObject({ reserved: 5 });
      s.close();
    } finally {
      await other.stop();
    }
  });

  it('issue #16 (R21): emergency authorizations count like any other; an emergency call connects without one', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 0 });
    const s = await connect(gw, await tokenOf(gw, a.id));
    // They reserve nothing, so only the cap bounds them: 5, then no more of any kind.
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await authorize(s, `sos${i}`, '911');
      expect(r).toMatchObject({ type: 'authorized' });
      ids.push(r.authorizationId);
    }
    expect(await authorize(s, 'sos5', '911')).toEqual({ type: 'denied', requestId: 'sos5', reason: 'too_many_open_authorizations' });
    expect(await authorize(s, 'sos6', '+14155550100')).toMatchObject({ type: 'denied', reason: 'too_many_open_authorizations' });
    // The call itself always connects: no authorization, an empty pool, at the cap.
    const call = await placeSoftphoneCall(gw, a.identity, '911');
    expect(call.twiml).toMatch(/<Number [^>]*>911<\/Number>/);
    // Cancelling one, or binding one to its call, makes room for one more.
    s.send({ type: 'cancel', requestId: 'c0', authorizationId: ids[0] });
    expect(await s.next((m) => m.requestId === 'c0')).toMatchObject({ type: 'canceled' });
    expect(await authorize(s, 'sos7', '112')).toMatchObject({ type: 'authorized' });
    expect(await authorize(s, 'sos8', '112')).toMatchObject({ type: 'denied', reason: 'too_many_open_authorizations' });
    expect((await placeSoftphoneCall(gw, a.identity, '911', { authorizationId: ids[1]! })).allowed).toBe(true);
    expect(await authorize(s, 'sos9', '112')).toMatchObject({ type: 'authorized' });
    expect(await balance(gw, a.id)).toMatchObject({ balance: 0, reserved: 0 });
    s.close();
  });

  it('MAX_OPEN_AUTHORIZATIONS_PER_STAFF sets the cap', async () => {
    const other = await startTestGateway({ env: { MAX_OPEN_AUTHORIZATIONS_PER_STAFF: '2' } });
    try {
      const a = await createAccount(other, { monthlyMinutes: 100 });
      const s = await connect(other, await tokenOf(other, a.id));
      expect((await authorize(s, '1')).type).toBe('authorized');
      expect((await authorize(s, '2')).type).toBe('authorized');
      expect(await authorize(s, '3')).toMatchObject({ type: 'denied', reason: 'too_many_open_authorizations' });
      s.close();
    } finally {
      await other.stop();
    }
  });
});

describe('release when a staff member has no socket left', () => {
  it('releases the open authorizations a grace period after the last socket closed, not before', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 100 });
    const token = await tokenOf(gw, a.id);
    const s = await connect(gw, token);
    for (const r of ['x1', 'x2', 'x3']) expect((await authorize(s, r)).type).toBe('authorized');
    s.close();
    await s.closed;
    await sleep(300);
    expect(await balance(gw, a.id)).toMatchObject({ reserved: 3 });
    await until(async () => (await balance(gw, a.id)).reserved === 0, 4000);
  });

  it('does not release while the staff member reconnected within the grace', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 100 });
    const token = await tokenOf(gw, a.id);
    const s = await connect(gw, token);
    expect((await authorize(s, 'y1')).type).toBe('authorized');
    s.close();
    await s.closed;
    const again = await connect(gw, token);
    await sleep(1800);
    expect(await balance(gw, a.id)).toMatchObject({ reserved: 1 });
    again.close();
    await until(async () => (await balance(gw, a.id)).reserved === 0, 4000);
  });

  it('across instances: released only once the staff member has no socket on any instance', async () => {
    const prefix = uniquePrefix('cap2');
    const env = { AUTHORIZATION_RELEASE_GRACE_SECONDS: '1' };
    const A = await startTestGateway({ prefix, env, keepKeys: true });
    const B = await startTestGateway({ prefix, env });
    try {
      const a = await createAccount(A, { monthlyMinutes: 100 });
      const token = await tokenOf(A, a.id);
      const onA = await connect(A, token);
      const onB = await connect(B, token);
      for (const r of ['z1', 'z2']) expect((await authorize(onA, r)).type).toBe('authorized');
      onA.close();
      await onA.closed;
      await sleep(2000);
      expect(await balance(A, a.id)).toMatchObject({ reserved: 2 });
      onB.close();
      await until(async () => (await balance(B, a.id)).reserved === 0, 4000);
    } finally {
      await A.stop();
      await B.stop();
    }
  });
});
