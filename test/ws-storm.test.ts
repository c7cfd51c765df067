// R2 over sockets: 200 softphones × 10 authorizations against 500 available minutes.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAccount, startTestGateway, type TestClock, type TestGateway } from './support/gateway.js';
import { openSocket, wsUrl, type TestSocket } from './support/ws-client.js';

let gw: TestGateway;
const clock: TestClock = { now: Date.now() };
beforeAll(async () => {
  // One staff member on 200 sockets: the per-staff caps on authorizations (issue #8) and
  // sockets (issue #16) are lifted for this test.
  gw = await startTestGateway({ clock, env: { MAX_OPEN_AUTHORIZATIONS_PER_STAFF: '100000', WS_MAX_SOCKETS_PER_STAFF: '100000' } });
});
afterAll(async () => {
  await gw.stop();
});

it('authorizes exactly 500 of 2,000; cancelling 100 frees 100; unbound ones expire and release their minutes', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 500 });
  const token = (await gw.admin('POST', `/v1/accounts/${a.id}/staff/alice/token`)).json.token;
  const sockets: TestSocket[] = [];
  for (let i = 0; i < 200; i += 50) {
    sockets.push(...(await Promise.all(Array.from({ length: 50 }, () => openSocket(wsUrl(gw.url), { authorization: `Bearer ${token}` })))));
  }
  const replies = await Promise.all(
    sockets.map(async (s, i) => {
      const mine: any[] = [];
      for (let j = 0; j < 10; j++) s.send({ type: 'authorize', requestId: `r${i}-${j}`, to: '+14155550100' });
      for (let j = 0; j < 10; j++) mine.push(await s.next((m) => (m.type === 'authorized' || m.type === 'denied') && m.requestId === `r${i}-${j}`, 15_000));
      return mine.map((m) => ({ ...m, socket: s }));
    }),
  );
  const all = replies.flat();
  const ok = all.filter((m) => m.type === 'authorized');
  expect(ok).toHaveLength(500);
  expect(all.filter((m) => m.type === 'denied' && m.reason === 'no_minutes')).toHaveLength(1500);
  expect(new Set(ok.map((m) => m.authorizationId)).size).toBe(500);
  expect((await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json).toMatchObject({ reserved: 500, available: 0 });

  // Cancel 100 (each from the socket that asked): exactly 100 more can be authorized.
  for (const m of ok.slice(0, 100)) m.socket.send({ type: 'cancel', authorizationId: m.authorizationId });
  const watcher = sockets[199]!;
  await watcher.next((m) => m.type === 'balance' && m.reserved === 400, 10_000);
  const again = await Promise.all(
    sockets.slice(0, 150).map(async (s, i) => {
      s.send({ type: 'authorize', requestId: `again${i}`, to: '+14155550100' });
      return s.next((m) => (m.type === 'authorized' || m.type === 'denied') && m.requestId === `again${i}`, 15_000);
    }),
  );
  expect(again.filter((m) => m.type === 'authorized')).toHaveLength(100);
  expect(again.filter((m) => m.type === 'denied')).toHaveLength(50);

  // Nobody binds them: after AUTHORIZATION_TTL_SECONDS they are all released.
  clock.now += 61_000;
  expect((await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json).toMatchObject({ reserved: 0, available: 500, balance: 500 });
  await watcher.next((m) => m.type === 'balance' && m.reserved === 0, 10_000);
  for (const s of sockets) s.close();
});

it("sockets of one account opening together (sharing snapshot reads) each end on the newest balance, while it changes", async () => {
  const a = await createAccount(gw, { monthlyMinutes: 100 });
  const token = (await gw.admin('POST', `/v1/accounts/${a.id}/staff/alice/token`)).json.token;
  // 150 sockets open, 50 at a time, while 30 adjustments land in between.
  const opening = (async () => {
    const out: TestSocket[] = [];
    for (let i = 0; i < 150; i += 50) {
      out.push(...(await Promise.all(Array.from({ length: 50 }, () => openSocket(wsUrl(gw.url), { authorization: `Bearer ${token}` })))));
    }
    return out;
  })();
  for (let i = 0; i < 30; i++) {
    expect((await gw.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: 1, reason: `storm ${i}` })).status).toBe(201);
  }
  const sockets = await opening;
  // Every socket's balances arrive in version order and the last one is the account's.
  await Promise.all(sockets.map((s) => s.next((m) => m.type === 'balance' && m.balance === 130, 10_000)));
  for (const s of sockets) {
    const versions = s.messages.filter((m) => m.type === 'balance').map((m) => m.version);
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
    s.close();
  }
});
