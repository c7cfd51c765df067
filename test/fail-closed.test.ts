// R14: with Redis unreachable the gateway refuses new calls (<Reject>), answers signals
// it could not record with a 5xx so Twilio retries, reports not-ready, meters nothing in
// memory — and recovers by itself when Redis returns.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAccount, startTestGateway, type TestGateway } from './support/gateway.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from './support/calls.js';
import { startRedisServer, type RedisServerHandle } from './support/redis-server.js';

let redis: RedisServerHandle;
let gw: TestGateway;
beforeAll(async () => {
  redis = await startRedisServer();
  gw = await startTestGateway({ redisUrl: redis.url });
});
afterAll(async () => {
  await gw.stop();
  await redis.stop();
});

async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('condition not met in time');
}

it('fails closed while Redis is down and recovers when it returns', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 10 });
  const live = await placeSoftphoneCall(gw, a.identity);
  expect(live.allowed).toBe(true);
  expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);

  await redis.stop();

  const refused = await placeSoftphoneCall(gw, a.identity);
  expect(refused.status).toBe(200);
  expect(refused.twiml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?><Response><Reject/);
  const signals = answeredCallSignals(live.callSid, 120);
  const statuses = await postAll(gw, signals);
  expect(statuses.every((s) => s >= 500)).toBe(true);
  expect((await fetch(`${gw.url}/readyz`)).status).toBe(503);
  const api = await gw.admin('GET', `/v1/accounts/${a.id}/balance`);
  expect(api.status).toBe(503);
  expect(api.json.error.code).toBe('STORE_UNAVAILABLE');
  expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);

  // The private server comes back empty (it keeps nothing on disk): the gateway
  // reconnects on its own and meters again.
  await redis.start();
  await waitFor(async () => (await fetch(`${gw.url}/readyz`)).status === 200);
  const b = await createAccount(gw, { monthlyMinutes: 10 });
  const again = await placeSoftphoneCall(gw, b.identity);
  expect(again.allowed).toBe(true);
  expect((await postAll(gw, answeredCallSignals(again.callSid, 90))).every((s) => s === 200)).toBe(true);
  expect((await gw.admin('GET', `/v1/accounts/${b.id}/balance`)).json).toMatchObject({ balance: 8, reserved: 0 });
});
