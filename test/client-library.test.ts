// minutegate/client against a real gateway and Redis: the first balance, live updates in
// version order, authorize/cancel as promises with a typed denial, and reconnection after
// the gateway restarts (same port), without a reload.
import { connect, DeniedError, MinutegateError, type BalanceMessage, type ConnectionState } from 'minutegate/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createAccount, deleteKeys, startTestGateway, uniquePrefix, type TestGateway } from './support/gateway.js';
import { dropTestDatabase, testDatabaseUrl } from './support/postgres.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from './support/calls.js';

const prefix = uniquePrefix('client');
let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ prefix, keepKeys: true });
});
afterAll(async () => {
  // Every gateway of this file kept the prefix's keys (it restarts on them): they go now.
  const redisUrl = gw.config.redis.url;
  await gw.stop();
  const cleaner = new Redis(redisUrl);
  await deleteKeys(cleaner, prefix).catch(() => {});
  cleaner.disconnect();
  await dropTestDatabase(testDatabaseUrl(prefix)).catch(() => {});
});

const wsUrl = () => `${gw.url.replace('http', 'ws')}/v1/ws`;
async function staffToken(accountId: string): Promise<string> {
  return (await gw.admin('POST', `/v1/accounts/${accountId}/staff/alice/token`)).json.token;
}
const until = async (ok: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return ok();
};

it('resolves ready with the first balance and follows every change, never going back a version', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 10 });
  const mg = connect({ url: wsUrl(), token: await staffToken(a.id) });
  const first = await mg.ready;
  expect(first).toMatchObject({ type: 'balance', accountId: a.id, balance: 10, available: 10 });
  expect(mg.state).toBe('open');
  const seen: BalanceMessage[] = [];
  const calls: string[] = [];
  mg.on('balance', (b) => seen.push(b));
  mg.on('call', (c) => calls.push(`${c.event} ${c.callSid}`));

  const call = await placeSoftphoneCall(gw, a.identity);
  await postAll(gw, answeredCallSignals(call.callSid, 125));
  expect(await until(() => mg.balance?.balance === 7)).toBe(true);
  expect(mg.balance).toMatchObject({ balance: 7, reserved: 0, usedThisCycle: 3 });
  for (let i = 1; i < seen.length; i++) expect(seen[i]!.version).toBeGreaterThan(seen[i - 1]!.version);
  expect(await until(() => calls.includes(`ended ${call.callSid}`))).toBe(true);
  mg.close();
  expect(mg.state).toBe('closed');
});

it('authorizes and cancels as promises; a denial is a DeniedError with the gateway’s reason', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 1 });
  const mg = connect({ url: wsUrl(), token: await staffToken(a.id) });
  await mg.ready;
  const auth = await mg.authorize('+14155550100');
  expect(auth.authorizationId).toEqual(expect.any(String));
  expect(Date.parse(auth.expiresAt)).toBeGreaterThan(Date.now());
  expect(await until(() => mg.balance?.available === 0)).toBe(true);

  const denied = await mg.authorize('+14155550101').catch((e: unknown) => e);
  expect(denied).toBeInstanceOf(DeniedError);
  expect((denied as DeniedError).reason).toBe('no_minutes');

  await mg.cancel(auth.authorizationId);
  expect(await until(() => mg.balance?.available === 1)).toBe(true);
  const again = await mg.cancel(auth.authorizationId).catch((e: unknown) => e);
  expect(again).toBeInstanceOf(MinutegateError);
  expect((again as MinutegateError).code).toBe('NOT_FOUND');
  mg.close();
  await expect(mg.authorize('+14155550100')).rejects.toMatchObject({ code: 'CLOSED' });
});

it('reconnects with backoff after the gateway restarts and shows the fresh balance without a new client', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 20 });
  const port = gw.port;
  const mg = connect({ url: wsUrl(), token: await staffToken(a.id), minDelayMs: 50, maxDelayMs: 400 });
  await mg.ready;
  const states: ConnectionState[] = [];
  mg.on('state', (s) => states.push(s));

  await gw.stop();
  expect(await until(() => mg.state === 'reconnecting')).toBe(true);
  // While it is down, the pool changes through another instance on the same Redis.
  const other = await startTestGateway({ prefix, keepKeys: true });
  await other.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: 5, reason: 'while away' });
  await other.stop();

  gw = await startTestGateway({ prefix, keepKeys: true, port });
  expect(await until(() => mg.state === 'open', 8000)).toBe(true);
  expect(await until(() => mg.balance?.balance === 25)).toBe(true);
  expect(states).toContain('reconnecting');
  expect(states.at(-1)).toBe('open');
  mg.close();
}, 30_000);
