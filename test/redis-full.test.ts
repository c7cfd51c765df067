// Issue #16: Redis out of memory (maxmemory reached under noeviction, "OOM command not
// allowed") is a storage failure like Redis being away (R14): every API write answers
// 503 STORE_UNAVAILABLE, a call is refused with <Reject>, a signal that could not be
// recorded gets an error answer, the socket's authorize reserves nothing, and each is
// counted in minutegate_redis_errors_total. On a private redis-server the test fills.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addCard, ADMIN, api, quote, staffToken } from './support/billing.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from './support/calls.js';
import { createAccount, startTestGateway, type TestGateway } from './support/gateway.js';
import { startRedisServer, type RedisServerHandle } from './support/redis-server.js';
import { openSocket, wsUrl } from './support/ws-client.js';

let server: RedisServerHandle;
let filler: Redis;
let gw: TestGateway;
beforeAll(async () => {
  server = await startRedisServer();
  filler = new Redis(server.url);
  await filler.config('SET', 'maxmemory-policy', 'noeviction');
  gw = await startTestGateway({ redisUrl: server.url });
});
afterAll(async () => {
  await gw?.stop();
  filler?.disconnect();
  await server?.stop();
});

const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await filler.info('memory'))![1]);

/** Caps maxmemory a little above what is used and writes until Redis refuses. Then the cap
 *  goes a little below what is used: freed client buffers must not make room again for a
 *  small write halfway through the test. */
async function fillRedis(): Promise<void> {
  await filler.config('SET', 'maxmemory', String((await usedMemory()) + 2 * 1024 * 1024));
  const chunk = 'x'.repeat(64 * 1024);
  for (let i = 0; ; i += 1) {
    try {
      await filler.set(`filler:${i}`, chunk);
    } catch (err) {
      expect(String(err)).toMatch(/OOM command not allowed/);
      break;
    }
    if (i > 10_000) throw new Error('Redis never filled up');
  }
  await filler.config('SET', 'maxmemory', String((await usedMemory()) - 256 * 1024));
  await expect(filler.set('filler:small', '1')).rejects.toThrow(/OOM command not allowed/);
}

async function redisErrors(): Promise<Map<string, number>> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  return new Map([...text.matchAll(/^minutegate_redis_errors_total\{route="([^"]+)"\} (\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
}

it('answers 503 STORE_UNAVAILABLE to every write, <Reject> to calls, an error to signals, and counts each', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 100 });
  const token = await staffToken(gw, a.id);
  const card = await addCard(gw, token, a.id);
  const q = await quote(gw, token, a.id, 1, 'one_time');
  const live = await placeSoftphoneCall(gw, a.identity);
  expect(live.allowed).toBe(true);
  const socket = await openSocket(wsUrl(gw.url), { authorization: `Bearer ${token}` });
  await socket.next((m) => m.type === 'balance');
  const carol = `${a.id}_carol`;
  expect((await gw.admin('POST', `/v1/accounts/${a.id}/staff`, { id: 'carol', email: 'carol@x.example', identity: carol })).status).toBe(201);
  const before = (await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json;

  await fillRedis();
  const errorsBefore = await redisErrors();

  const writes: [string, string, unknown, string?][] = [
    ['POST', `/v1/accounts/${a.id}/adjustments`, { minutes: 5, reason: 'credit' }],
    ['POST', '/v1/accounts', { id: `${a.id}x`, name: 'X', monthlyMinutes: 10, staff: [{ id: 'al', email: 'al@x.example', identity: `${a.id}x_al` }], phoneNumbers: ['+14155550177'] }],
    ['PUT', `/v1/accounts/${a.id}/alerts`, { thresholdsMinutes: [5, 50], email: false, webhook: true }],
    ['POST', `/v1/accounts/${a.id}/purchases/quote`, { bundles: 2, kind: 'addon' }, token],
    ['POST', `/v1/accounts/${a.id}/purchases`, { quoteId: q.quoteId, paymentMethodId: card.id }, token],
    ['POST', `/v1/accounts/${a.id}/payment-methods`, { processorToken: 'tok_oom_1', brand: 'visa', last4: '4242', expMonth: 12, expYear: 2099 }],
    ['POST', `/v1/accounts/${a.id}/staff`, { id: 'bob', email: 'bob@x.example', identity: `${a.id}_bob` }],
    ['POST', `/v1/accounts/${a.id}/numbers`, { phoneNumbers: ['+14155550178'] }],
    ['PATCH', `/v1/accounts/${a.id}/plan`, { planMinutes: 200 }],
    ['POST', `/v1/accounts/${a.id}/staff/alice/revoke-tokens`, undefined],
  ];
  for (const [method, path, body, bearer] of writes) {
    const r = await api(gw, bearer ?? ADMIN, method, path, body, method === 'POST' && path.endsWith('/purchases') ? { 'idempotency-key': 'oom-1' } : {});
    expect(r.status, `${method} ${path}: ${JSON.stringify(r.json)}`).toBe(503);
    expect(r.json.error.code).toBe('STORE_UNAVAILABLE');
  }

  // A removal frees memory, which Redis allows when it can: done, or refused and whole on a retry.
  const removed = await gw.admin('DELETE', `/v1/accounts/${a.id}/staff/carol`);
  expect([204, 503]).toContain(removed.status);
  const removals = removed.status === 503 ? 1 : 0;

  // A new call is refused; a signal about the live call that could not be recorded is an error.
  const refused = await placeSoftphoneCall(gw, a.identity);
  expect(refused.status).toBe(200);
  expect(refused.twiml).toMatch(/<Response><Reject/);
  const statuses = await postAll(gw, answeredCallSignals(live.callSid, 120));
  expect(statuses.some((s) => s === 503)).toBe(true);
  expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);

  // The socket's authorize reserves nothing and says so (never an internal error).
  socket.send({ type: 'authorize', requestId: 'oom', to: '+14155550100' });
  expect(await socket.next((m) => m.requestId === 'oom')).toMatchObject({ type: 'error', code: 'UNAVAILABLE' });
  socket.close();

  const errors = await redisErrors();
  const grew = (route: string) => (errors.get(route) ?? 0) - (errorsBefore.get(route) ?? 0);
  expect(grew('api')).toBe(writes.length + removals);
  expect(grew('voice')).toBe(1);
  expect(grew('ws')).toBe(1);
  expect(grew('status')).toBe(statuses.filter((s) => s === 503).length);

  // Nothing was changed by what was refused.
  await filler.config('SET', 'maxmemory', '0');
  const after = (await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json;
  expect(after).toMatchObject({ balance: before.balance, reserved: before.reserved, planMinutes: before.planMinutes });
  expect((await gw.admin('GET', `/v1/accounts/${a.id}x`)).status).toBe(404);
  expect((await gw.admin('GET', `/v1/accounts/${a.id}/payment-methods`)).json.paymentMethods).toHaveLength(1);
  // A removal refused half-way is whole when retried: carol's softphone places no call.
  if (removed.status === 503) expect((await gw.admin('DELETE', `/v1/accounts/${a.id}/staff/carol`)).status).toBe(204);
  expect((await gw.admin('GET', `/v1/accounts/${a.id}`)).json.staff.map((s: any) => s.id)).toEqual(['alice']);
  await new Promise((r) => setTimeout(r, 2100)); // the directory's identity cache
  expect((await placeSoftphoneCall(gw, carol)).allowed).toBe(false);
});
