// Issue #8 item 3: removing a staff member, or revoking their tokens, takes effect at once —
// on every gateway instance within 5 s — and staff tokens have exactly one valid spelling.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, startTestGateway, uniquePrefix, type TestGateway } from './support/gateway.js';
import { placeInboundCall, placeSoftphoneCall } from './support/calls.js';
import { openSocket, wsUrl, type TestSocket } from './support/ws-client.js';

let A: TestGateway;
let B: TestGateway;
beforeAll(async () => {
  const prefix = uniquePrefix('rm');
  A = await startTestGateway({ prefix, keepKeys: true });
  B = await startTestGateway({ prefix });
});
afterAll(async () => {
  await A?.stop();
  await B?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function within(ms: number, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not true within ${ms} ms`);
    await sleep(100);
  }
}
const tokenOf = async (id: string, staff = 'alice') => {
  const r = await A.admin('POST', `/v1/accounts/${id}/staff/${staff}/token`);
  expect(r.status).toBe(201);
  return r.json.token as string;
};
const connect = async (g: TestGateway, token: string) => {
  const s = await openSocket(wsUrl(g.url), { authorization: `Bearer ${token}` });
  await s.next((m) => m.type === 'balance');
  return s;
};
const authorize = async (s: TestSocket, requestId: string) => {
  s.send({ type: 'authorize', requestId, to: '+14155550100' });
  return s.next((m) => m.requestId === requestId);
};
const upgradeStatus = (g: TestGateway, token: string) =>
  openSocket(wsUrl(g.url), { authorization: `Bearer ${token}` }).then(
    (s) => {
      s.close();
      return 101;
    },
    (err: { status?: number }) => err.status ?? 0,
  );

async function accountWithBob() {
  const a = await createAccount(A, { monthlyMinutes: 100 });
  const r = await A.admin('POST', `/v1/accounts/${a.id}/staff`, { id: 'bob', email: 'bob@x.example', identity: `${a.id}_bob` });
  expect(r.status).toBe(201);
  return a;
}

describe('DELETE /v1/accounts/:id/staff/:staffId', () => {
  it('takes everything away from the member on every instance, and nothing from the others', async () => {
    const a = await accountWithBob();
    const alice = await tokenOf(a.id);
    const bob = await tokenOf(a.id, 'bob');
    const onA = await connect(A, alice);
    const onB = await connect(B, alice);
    const bobOnB = await connect(B, bob);
    expect((await authorize(onA, 'a1')).type).toBe('authorized');
    expect((await authorize(onB, 'a2')).type).toBe('authorized');
    // B has seen alice's identity and the account's staff (its caches are warm).
    expect((await placeSoftphoneCall(B, a.identity)).allowed).toBe(true);
    expect((await placeInboundCall(B, a.number)).twiml).toContain(`>${a.identity}</Client>`);
    expect((await B.as(alice, 'GET', `/v1/accounts/${a.id}/balance`)).status).toBe(200);
    expect((await placeSoftphoneCall(A, `${a.id}_bob`, `client:${a.identity}`)).allowed).toBe(true);
    const before = (await A.admin('GET', `/v1/accounts/${a.id}/balance`)).json;
    expect(before).toMatchObject({ reserved: 5, activeCalls: 3 }); // 2 open authorizations + 3 calls

    const del = await A.admin('DELETE', `/v1/accounts/${a.id}/staff/alice`);
    expect(del.status).toBe(204);

    // Open authorizations released at once (the calls in progress keep their minutes).
    expect((await A.admin('GET', `/v1/accounts/${a.id}/balance`)).json).toMatchObject({ reserved: 3, activeCalls: 3 });
    // Sockets on both instances closed with 4003 within 5 s.
    const started = Date.now();
    const [cA, cB] = await Promise.all([onA.closed, onB.closed]);
    expect(cA.code).toBe(4003);
    expect(cB.code).toBe(4003);
    expect(Date.now() - started).toBeLessThan(5000);
    // Tokens stop working on every REST route and on the socket, on both instances.
    for (const g of [A, B]) {
      await within(5000, async () => (await g.as(alice, 'GET', `/v1/accounts/${a.id}/balance`)).status === 401);
      expect((await g.as(alice, 'GET', `/v1/accounts/${a.id}/ledger`)).status).toBe(401);
      expect((await g.as(alice, 'POST', `/v1/accounts/${a.id}/voice-token`)).status).toBe(401);
      expect(await upgradeStatus(g, alice)).toBe(401);
    }
    // Their identity no longer places calls, and inbound calls no longer ring them.
    expect((await placeSoftphoneCall(A, a.identity)).allowed).toBe(false);
    await within(5000, async () => !(await placeSoftphoneCall(B, a.identity)).allowed);
    await within(5000, async () => !(await placeInboundCall(B, a.number)).twiml.includes(`>${a.identity}</Client>`));
    expect((await placeInboundCall(A, a.number)).twiml).toContain(`>${a.id}_bob</Client>`);
    // Nor does another softphone reach them (their Voice SDK token may still be valid).
    for (const g of [A, B]) expect((await placeSoftphoneCall(g, `${a.id}_bob`, `client:${a.identity}`)).allowed).toBe(false);
    expect((await placeSoftphoneCall(A, `${a.id}_bob`, a.identity)).allowed).toBe(false);
    // Bob is untouched.
    expect(bobOnB.ws.readyState).toBe(1);
    expect((await B.as(bob, 'GET', `/v1/accounts/${a.id}/balance`)).status).toBe(200);
    const list = (await A.admin('GET', `/v1/accounts/${a.id}/staff`)).json.staff.map((s: any) => s.id);
    expect(list).toEqual(['bob']);
    // The identity is free again: another member may take it, and be called.
    expect((await A.admin('POST', `/v1/accounts/${a.id}/staff`, { id: 'carol', email: 'c@x.example', identity: a.identity })).status).toBe(201);
    expect((await placeSoftphoneCall(B, `${a.id}_bob`, `client:${a.identity}`)).allowed).toBe(true);
    // A second delete, an unknown member or account: 404; a staff token may not remove.
    expect((await A.admin('DELETE', `/v1/accounts/${a.id}/staff/alice`)).status).toBe(404);
    expect((await A.admin('DELETE', `/v1/accounts/nosuchaccount/staff/alice`)).status).toBe(404);
    expect((await A.as(bob, 'DELETE', `/v1/accounts/${a.id}/staff/carol`)).status).toBe(403);
    bobOnB.close();
  });

  it('an authorize sent right after the removal reserves nothing and closes the socket', async () => {
    const a = await accountWithBob();
    const s = await connect(A, await tokenOf(a.id));
    expect((await A.admin('DELETE', `/v1/accounts/${a.id}/staff/alice`)).status).toBe(204);
    s.send({ type: 'authorize', requestId: 'late', to: '+14155550100' });
    expect((await s.closed).code).toBe(4003);
    expect(s.messages.filter((m) => m.type === 'authorized')).toEqual([]);
    expect((await A.admin('GET', `/v1/accounts/${a.id}/balance`)).json).toMatchObject({ reserved: 0 });
  });

  it('a member re-added under the same id does not revive the old tokens', async () => {
    const a = await accountWithBob();
    const old = await tokenOf(a.id);
    expect((await A.admin('DELETE', `/v1/accounts/${a.id}/staff/alice`)).status).toBe(204);
    expect((await A.admin('POST', `/v1/accounts/${a.id}/staff`, { id: 'alice', email: 'a@x.example', identity: a.identity })).status).toBe(201);
    await within(5000, async () => (await B.as(old, 'GET', `/v1/accounts/${a.id}/balance`)).status === 401);
    const fresh = await tokenOf(a.id);
    expect((await B.as(fresh, 'GET', `/v1/accounts/${a.id}/balance`)).status).toBe(200);
  });
});

describe('a removed identity is held for its account while a Voice token for it may live (issue #16)', () => {
  it('another account cannot claim it, by creating an account or adding staff; its own account can', async () => {
    const a = await accountWithBob();
    const dave = `${a.id}_bob`;
    expect((await placeSoftphoneCall(A, dave)).allowed).toBe(true);
    expect((await A.admin('DELETE', `/v1/accounts/${a.id}/staff/bob`)).status).toBe(204);

    // Account B, through either instance: a new account naming the identity, or a new member.
    const bId = `${a.id}b`;
    const created = await B.admin('POST', '/v1/accounts', {
      id: bId,
      name: 'B',
      monthlyMinutes: 100,
      staff: [{ id: 'dave', email: 'dave@b.example', identity: dave }],
    });
    expect(created.status).toBe(409);
    expect(created.json.error.code).toBe('IDENTITY_TAKEN');
    expect(created.json.error.message).toContain(dave);
    expect((await A.admin('GET', `/v1/accounts/${bId}`)).status).toBe(404); // nothing half-made
    const b = await createAccount(B, { monthlyMinutes: 100 });
    const added = await A.admin('POST', `/v1/accounts/${b.id}/staff`, { id: 'dave', email: 'dave@b.example', identity: dave });
    expect(added.status).toBe(409);
    expect(added.json.error.code).toBe('IDENTITY_TAKEN');
    // dave's still-valid Voice token spends nobody's pool.
    expect((await placeSoftphoneCall(B, dave)).allowed).toBe(false);
    expect((await A.admin('GET', `/v1/accounts/${b.id}/balance`)).json).toMatchObject({ reserved: 0, activeCalls: 0 });

    // A's own failed re-claim (the member id exists) leaves the hold as it was.
    const clash = await A.admin('POST', `/v1/accounts/${a.id}/staff`, { id: 'alice', email: 'x@x.example', identity: dave });
    expect(clash.json.error.code).toBe('STAFF_EXISTS');
    expect((await B.admin('POST', `/v1/accounts/${b.id}/staff`, { id: 'dave', email: 'd@b.example', identity: dave })).json.error.code).toBe('IDENTITY_TAKEN');

    // Account A itself may take it back (its own decision: the old token then calls on A's pool).
    expect((await A.admin('POST', `/v1/accounts/${a.id}/staff`, { id: 'erin', email: 'e@x.example', identity: dave })).status).toBe(201);
    expect((await placeSoftphoneCall(A, a.identity, `client:${dave}`)).allowed).toBe(true);
    // Removed again, it is held again for A, not released to B.
    expect((await A.admin('DELETE', `/v1/accounts/${a.id}/staff/erin`)).status).toBe(204);
    expect((await B.admin('POST', `/v1/accounts/${b.id}/staff`, { id: 'dave', email: 'd@b.example', identity: dave })).json.error.code).toBe('IDENTITY_TAKEN');
    expect((await A.admin('POST', `/v1/accounts/${a.id}/staff`, { id: 'bob', email: 'b@x.example', identity: dave })).status).toBe(201);
  });
});

describe('POST /v1/accounts/:id/staff/:staffId/revoke-tokens', () => {
  it('stops every earlier token on every instance within 5 s; tokens issued after work', async () => {
    const a = await accountWithBob();
    const t1 = await tokenOf(a.id);
    const t2 = await tokenOf(a.id);
    const bob = await tokenOf(a.id, 'bob');
    const onA = await connect(A, t1);
    const onB = await connect(B, t2);
    expect((await B.as(t1, 'GET', `/v1/accounts/${a.id}/balance`)).status).toBe(200);
    expect((await A.admin('POST', `/v1/accounts/${a.id}/staff/alice/revoke-tokens`)).status).toBe(204);
    const fresh = await tokenOf(a.id);
    const [cA, cB] = await Promise.all([onA.closed, onB.closed]);
    expect([cA.code, cB.code]).toEqual([4003, 4003]);
    for (const g of [A, B]) {
      await within(5000, async () => (await g.as(t1, 'GET', `/v1/accounts/${a.id}/balance`)).status === 401);
      expect((await g.as(t2, 'GET', `/v1/accounts/${a.id}/calls`)).status).toBe(401);
      expect(await upgradeStatus(g, t2)).toBe(401);
      expect((await g.as(fresh, 'GET', `/v1/accounts/${a.id}/balance`)).status).toBe(200);
      expect(await upgradeStatus(g, fresh)).toBe(101);
      expect((await g.as(bob, 'GET', `/v1/accounts/${a.id}/balance`)).status).toBe(200);
    }
    // The member still places calls (only tokens were revoked).
    expect((await placeSoftphoneCall(A, a.identity)).allowed).toBe(true);
    expect((await A.admin('POST', `/v1/accounts/${a.id}/staff/nobody/revoke-tokens`)).status).toBe(404);
    expect((await A.as(bob, 'POST', `/v1/accounts/${a.id}/staff/alice/revoke-tokens`)).status).toBe(403);
  });
});

describe('staff tokens are parsed strictly', () => {
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  /** Same bytes, other spelling: the last character's unused low bits set. */
  const respell = (part: string) => {
    const last = B64.indexOf(part[part.length - 1]!);
    return part.slice(0, -1) + B64[last ^ 1];
  };

  it('one token has exactly one valid spelling; every other is 401 on REST and the socket', async () => {
    const a = await createAccount(A, { monthlyMinutes: 10 });
    const token = await tokenOf(a.id);
    const [h, p, s] = token.split('.') as [string, string, string];
    expect((await A.as(token, 'GET', `/v1/accounts/${a.id}/balance`)).status).toBe(200);
    const variants = [
      `${h}.${p}.${respell(s)}`, // non-canonical trailing bits of the signature
      `${h}.${p}.${s}=`, // padding
      `${h}=.${p}.${s}`,
      `${h}.${p}.${s}.`,
      `${h}.${p}.${s}x`,
      `${h}.${p}.${s.replaceAll('-', '+').replaceAll('_', '/')}`, // standard base64 alphabet
      `${h}.${p}.${s}%`,
    ].filter((v) => v !== token);
    // The signature has 32 bytes in 43 characters: two unused bits, so respelling is possible.
    expect(respell(s)).not.toBe(s);
    for (const v of variants) {
      expect((await A.as(v, 'GET', `/v1/accounts/${a.id}/balance`)).status, v).toBe(401);
      expect(await upgradeStatus(A, v)).toBe(401);
    }
  });
});
