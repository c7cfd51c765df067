// No client value reaches an internal name (issue #8, item 4): authorization ids are only
// ever ones the gateway issued, client requestIds never share a namespace with staff ids,
// paging cursors are validated, and an unknown socket type is quoted briefly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountKeys } from '../src/redis/keys.js';
import { createAccount, startTestGateway, type TestGateway } from './support/gateway.js';
import { placeSoftphoneCall } from './support/calls.js';
import { openSocket, wsUrl, type TestSocket } from './support/ws-client.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw.stop();
});

const redisErrors = async () => {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  return [...text.matchAll(/^minutegate_redis_errors_total\{[^}]*\} (\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0);
};

async function staffSocket(accountId: string, staffId: string): Promise<TestSocket> {
  const tok = (await gw.admin('POST', `/v1/accounts/${accountId}/staff/${encodeURIComponent(staffId)}/token`)).json.token;
  const s = await openSocket(wsUrl(gw.url), { authorization: `Bearer ${tok}` });
  await s.next((m) => m.type === 'balance');
  return s;
}

describe('authorization ids', () => {
  it('cancel of an id the gateway did not issue is NOT_FOUND, also for an internal index name', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const s = await staffSocket(a.id, 'alice');
    s.send({ type: 'authorize', requestId: 'r1', to: '+14155550100' });
    const ok = await s.next((m) => m.type === 'authorized');
    const errorsBefore = await redisErrors();
    for (const id of ['req:alice:r1', 'az_nothex', `${ok.authorizationId}x`, 'x'.repeat(128)]) {
      s.send({ type: 'cancel', authorizationId: id, requestId: `c-${id.slice(0, 12)}` });
      const e = await s.next((m) => m.type === 'error' && m.requestId === `c-${id.slice(0, 12)}`);
      expect(e.code).toBe('NOT_FOUND');
    }
    // The real authorization is still open: the crafted ids released nothing.
    expect((await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json.reserved).toBe(1);
    expect(await redisErrors()).toBe(errorsBefore);
    s.close();
  });

  it('/twilio/voice ignores a crafted authorizationId and checks-and-reserves afresh', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const s = await staffSocket(a.id, 'alice');
    s.send({ type: 'authorize', requestId: 'r1', to: '+14155550100' });
    await s.next((m) => m.type === 'authorized');
    const errorsBefore = await redisErrors();
    const call = await placeSoftphoneCall(gw, a.identity, '+14155550100', { authorizationId: 'req:alice:r1' });
    expect(call.status).toBe(200);
    expect(call.allowed).toBe(true);
    // A fresh reservation next to the still-open authorization.
    expect((await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json).toMatchObject({ reserved: 2, activeCalls: 1 });
    expect(await redisErrors()).toBe(errorsBefore);
    s.close();
  });

  it("a staff id with ':' never shares a namespace with another member's requestIds", async () => {
    const id = `acct${Math.random().toString(36).slice(2, 10)}`;
    const created = await gw.admin('POST', '/v1/accounts', {
      id,
      name: id,
      monthlyMinutes: 10,
      staff: [
        { id: 'a', email: 'a@x.example', identity: `${id}_a` },
        { id: 'a:b', email: 'ab@x.example', identity: `${id}_ab` },
      ],
    });
    expect(created.status).toBe(201);
    const sa = await staffSocket(id, 'a');
    const sab = await staffSocket(id, 'a:b');
    sab.send({ type: 'authorize', requestId: 'c', to: '+14155550100' });
    const first = await sab.next((m) => m.type === 'authorized');
    // "req:" + "a" + ":" + "b:c" once named the same index entry as "req:" + "a:b" + ":" + "c".
    sa.send({ type: 'authorize', requestId: 'b:c', to: '+14155550100' });
    const second = await sa.next((m) => m.type === 'authorized');
    expect(second.authorizationId).not.toBe(first.authorizationId);
    expect((await gw.admin('GET', `/v1/accounts/${id}/balance`)).json.reserved).toBe(2);
    // Each is still idempotent for its own requestId.
    sa.send({ type: 'authorize', requestId: 'b:c', to: '+14155550100' });
    expect((await sa.next((m) => m.type === 'authorized')).authorizationId).toBe(second.authorizationId);
    // And each cancels only its own.
    sa.send({ type: 'cancel', authorizationId: first.authorizationId, requestId: 'x' });
    expect((await sa.next((m) => m.type === 'error' && m.requestId === 'x')).code).toBe('NOT_FOUND');
    sa.messages.length = 0; // only snapshots from here on
    sa.send({ type: 'cancel', authorizationId: second.authorizationId });
    await sa.next((m) => m.type === 'balance' && m.reserved === 1);
    // Nothing of the cancelled one is left in the index.
    // (Per-staff open counts live beside them as "req:#<staffId>": '#' is never in a staff id.)
    const fields = Object.keys(await gw.redis.hgetall(accountKeys(gw.config.redis.prefix, id).auths)).filter((f) => !f.startsWith('req:#'));
    expect(fields.sort()).toEqual([first.authorizationId, 'req:a:b:c'].sort());
    sa.close();
    sab.close();
  });
});

describe('authorization scripts', () => {
  it('an index entry passed as an authorizationId makes no script fail, nor binds or releases anything', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const store = gw.store;
    const now = Date.now();
    const az = await store.createAuthorization(
      { accountId: a.id, authorizationId: 'az_0123456789abcdef0123456789abcdef', staffId: 'alice', requestId: 'r1', to: '+14155550100', reserveMinutes: 1, ttlMs: 60_000 },
      now,
    );
    expect(az?.decision).toBe('authorized');
    expect(await store.cancelAuthorization(a.id, 'req:alice:r1', 'alice', now)).toBeNull();
    expect(await store.cancelAuthorization(a.id, 'req:alice:r1', '', now)).toBeNull();
    const call = await store.authorizeCall(
      { accountId: a.id, callSid: 'CAcrafted000000000000000000000001', direction: 'outbound', from: `client:${a.identity}`, to: '+14155550100', staffId: 'alice', reserveMinutes: 1, authorizationId: 'req:alice:r1', expectedLegs: 1, check: { member: 'CAcrafted000000000000000000000001', dueAt: now + 3600_000 } },
      now,
    );
    // A fresh reservation: the open authorization is left as it was.
    expect(call).toMatchObject({ decision: 'allowed', via: 'reserved' });
    expect((await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json.reserved).toBe(2);
  });
});

describe('paging cursors', () => {
  it('a malformed or out-of-range ledger cursor is 400 VALIDATION_FAILED, never 500', async () => {
    const a = await createAccount(gw);
    for (const cursor of ['99999999999999999999999-0', '1-99999999999999999999999', '18446744073709551616-0', 'abc', '1-', '-1-0']) {
      for (const order of ['asc', 'desc']) {
        const r = await gw.admin('GET', `/v1/accounts/${a.id}/ledger?order=${order}&cursor=${encodeURIComponent(cursor)}`);
        expect([r.status, r.json.error?.code, cursor]).toEqual([400, 'VALIDATION_FAILED', cursor]);
      }
    }
    // The extremes of the id space are valid cursors: an empty page, not an error.
    const top = await gw.admin('GET', `/v1/accounts/${a.id}/ledger?cursor=18446744073709551615-18446744073709551615`);
    expect([top.status, top.json.entries]).toEqual([200, []]);
    const bottom = await gw.admin('GET', `/v1/accounts/${a.id}/ledger?order=desc&cursor=0-0`);
    expect([bottom.status, bottom.json.entries]).toEqual([200, []]);
    // A real cursor still pages.
    await gw.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: 5, reason: 'gift' });
    const p1 = await gw.admin('GET', `/v1/accounts/${a.id}/ledger?limit=1`);
    const p2 = await gw.admin('GET', `/v1/accounts/${a.id}/ledger?limit=1&cursor=${p1.json.nextCursor}`);
    expect(p2.json.entries[0].kind).toBe('adjustment');
  });

  it('a malformed or out-of-range calls cursor is 400 VALIDATION_FAILED, never 500', async () => {
    const a = await createAccount(gw);
    const huge = '9'.repeat(190);
    for (const cursor of [`${huge}:CA1`, '99999999999999999999:CA1', '1:', ':CA1', '1:CA 1', '1:a:b', 'x']) {
      const r = await gw.admin('GET', `/v1/accounts/${a.id}/calls?cursor=${encodeURIComponent(cursor)}`);
      expect([r.status, r.json.error?.code, cursor]).toEqual([400, 'VALIDATION_FAILED', cursor]);
    }
    const ok = await gw.admin('GET', `/v1/accounts/${a.id}/calls?cursor=${Date.now()}:CA0`);
    expect(ok.status).toBe(200);
  });
});

describe('client socket', () => {
  it('an unknown type is quoted with at most 64 characters', async () => {
    const a = await createAccount(gw);
    const s = await staffSocket(a.id, 'alice');
    const long = `evil${'y'.repeat(5000)}`;
    s.send({ type: long, requestId: 'u1' });
    const e = await s.next((m) => m.type === 'error' && m.requestId === 'u1');
    expect(e.code).toBe('UNKNOWN_TYPE');
    expect(e.message).toContain(long.slice(0, 64));
    expect(e.message).not.toContain(long.slice(0, 65));
    expect(e.message.length).toBeLessThan(200);
    s.close();
  });
});
