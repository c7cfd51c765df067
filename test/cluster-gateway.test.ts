// The whole gateway, unchanged, on a 3-master Redis Cluster: webhooks, the API and the
// socket fan-out (sharded pub/sub) — every script touches one slot.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAccount, startTestGateway, type TestGateway } from './support/gateway.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from './support/calls.js';
import { sharedRedisCluster } from './support/shared-cluster.js';
import { openSocket, wsUrl } from './support/ws-client.js';
import { accountKeys, directoryKeys } from '../src/redis/keys.js';
import { ReconcileQueue } from '../src/redis/reconcile-queue.js';
import { registerScripts } from '../src/redis/scripts.js';
import { waitFor } from './support/billing.js';
import { queryBooks } from './support/postgres.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ clusterNodes: sharedRedisCluster() });
});
afterAll(async () => {
  await gw?.stop();
});

it('meters calls and streams the balance to sockets on Redis Cluster', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 10 });
  const b = await createAccount(gw, { monthlyMinutes: 10 });
  const tok = (await gw.admin('POST', `/v1/accounts/${a.id}/staff/alice/token`)).json.token;
  const dash = await openSocket(wsUrl(gw.url), { authorization: `Bearer ${tok}` });
  expect(await dash.next((m) => m.type === 'balance')).toMatchObject({ balance: 10 });
  const call = await placeSoftphoneCall(gw, a.identity);
  expect(call.allowed).toBe(true);
  expect((await postAll(gw, answeredCallSignals(call.callSid, 125))).every((s) => s === 200)).toBe(true);
  expect(await dash.next((m) => m.type === 'call' && m.event === 'ended')).toMatchObject({ billedMinutes: 3 });
  expect(await dash.next((m) => m.type === 'balance' && m.balance === 7)).toMatchObject({ reserved: 0 });
  // Another account (another slot, most likely) is metered independently.
  const other = await placeSoftphoneCall(gw, b.identity);
  await postAll(gw, answeredCallSignals(other.callSid, 61));
  expect((await gw.admin('GET', `/v1/accounts/${b.id}/balance`)).json).toMatchObject({ balance: 8 });
  expect((await gw.admin('GET', `/v1/accounts/${a.id}/ledger`)).json.entries.map((e: any) => e.kind)).toEqual(['cycle_reset', 'call_debit']);
  expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
  dash.close();

  // Archived on the cluster too: the call's row in PostgreSQL, and the batch script
  // (calls-archived-n.lua, its keys in the account's slot) took the call off the ended set.
  await waitFor(async () => {
    const rows = await queryBooks(gw.config.postgres.url, 'SELECT call_sid FROM calls WHERE account_id = $1', [a.id]);
    return rows.length === 1 ? rows : null;
  }, 10_000);
  await waitFor(async () => ((await gw.redis.zcard(accountKeys(gw.config.redis.prefix, a.id).endedCalls)) === 0 ? true : null), 10_000);
  // Its CallSid look-up (a global key, in another slot) expires at the end of its retention.
  const ttl = await waitFor(async () => {
    const ms = await gw.redis.pttl(directoryKeys(gw.config.redis.prefix).call(call.callSid));
    return ms > 0 ? ms : null;
  }, 10_000);
  expect(ttl).toBeLessThanOrEqual(86_400_000);
});

it('keeps reconciliation checks in each account slot and the index of accounts on Redis Cluster', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 10 });
  const call = await placeSoftphoneCall(gw, a.identity);
  const prefix = gw.config.redis.prefix;
  // The call's check went in with its authorization (same slot) and the account into the index.
  expect(await gw.redis.zscore(accountKeys(prefix, a.id).checks, call.callSid)).not.toBeNull();
  expect(await gw.redis.zscore(directoryKeys(prefix).reconcileIndex, a.id)).not.toBeNull();
  // Every script of a reconciliation pass, each on its own slot.
  const queue = new ReconcileQueue(gw.redis, registerScripts(gw.redis), prefix);
  const now = Date.now();
  await queue.schedule(a.id, call.callSid, now - 1, true);
  const claimed = (await queue.claimAccounts(now, 60_000, 1000)).find((c) => c.accountId === a.id);
  expect(claimed).toBeDefined();
  expect((await queue.claimChecks(a.id, now, 60_000, 50)).members).toEqual([call.callSid]);
  await queue.schedule(a.id, call.callSid, now + 3_600_000, true);
  const { next } = await queue.claimChecks(a.id, now, 60_000, 0);
  await queue.release(claimed!, next);
  expect(await gw.redis.zscore(directoryKeys(prefix).reconcileIndex, a.id)).toBe(String(now + 3_600_000));
});

it('holds a removed identity for its account on Redis Cluster: claim and removal take its key and marker in one slot', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 10 });
  const b = await createAccount(gw, { monthlyMinutes: 10 });
  // A softphone dials only its own account's identities (issue #16): frank of A is the caller.
  const frank = `${a.identity}-frank`;
  expect((await gw.admin('POST', `/v1/accounts/${a.id}/staff`, { id: 'frank', email: 'f@a.example', identity: frank })).status).toBe(201);
  expect((await gw.admin('DELETE', `/v1/accounts/${a.id}/staff/alice`)).status).toBe(204);
  expect((await placeSoftphoneCall(gw, frank, `client:${a.identity}`)).allowed).toBe(false);
  const taken = await gw.admin('POST', `/v1/accounts/${b.id}/staff`, { id: 'dave', email: 'd@b.example', identity: a.identity });
  expect(taken.json.error.code).toBe('IDENTITY_TAKEN');
  expect((await gw.admin('POST', `/v1/accounts/${a.id}/staff`, { id: 'erin', email: 'e@a.example', identity: a.identity })).status).toBe(201);
  expect((await placeSoftphoneCall(gw, frank, `client:${a.identity}`)).allowed).toBe(true);
  expect((await placeSoftphoneCall(gw, b.identity, `client:${a.identity}`)).allowed).toBe(false);
});
