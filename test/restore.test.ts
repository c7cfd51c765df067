// R20, issue #18 §1/§3: `npm run restore` rebuilds every account Redis lost from the books.
// Accounts are set up through the real API (cards, add-ons active and ending, a plan raise
// and a cut, an adjustment, alert settings, a revoked token, a removed staff member, calls
// settled and archived, purchases), every key of the prefix is deleted (Redis lost), and
// the real entry point runs as a child process against the same Redis and PostgreSQL;
// then a fresh gateway must answer as before.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN, addCard, api, buy, staffToken, waitFor } from './support/billing.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from './support/calls.js';
import { deleteKeys, startTestGateway, uniquePrefix, type TestGateway } from './support/gateway.js';
import { dropTestDatabase, queryBooks, testDatabaseUrl } from './support/postgres.js';
import { TEST_REDIS_URL } from './support/redis-url.js';
import { runEntry } from './support/run-main.js';
import { connectRedis, createRedis } from '../src/redis/client.js';
import type { Cluster, Redis } from 'ioredis';

const prefix = uniquePrefix('restore');
const dbUrl = testDatabaseUrl(prefix);
let gw: TestGateway;
// One connection shared by both gateways (before and after the loss) and the test, so
// stopping a gateway neither deletes the keys nor drops the books.
let redis: Redis | Cluster;

const runRestore = (...args: string[]) => runEntry('src/restore-main.ts', args, { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, DATABASE_URL: dbUrl });

const lastJson = (out: string) => JSON.parse(out.trim().split('\n').pop()!);
const poolKey = (id: string) => `${prefix}:{${id}}:pool`;

async function prefixKeys(): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await gw.redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out.sort();
}

async function call(g: TestGateway, identity: string, seconds: number) {
  const placed = await placeSoftphoneCall(g, identity);
  expect(placed.allowed).toBe(true);
  expect(await postAll(g, answeredCallSignals(placed.callSid, seconds))).toEqual([200, 200, 200, 200, 200, 200]);
  return placed.callSid;
}

/** Everything the API shows of an account that a restore must bring back. */
async function view(g: TestGateway, id: string, purchaseIds: string[]) {
  const get = async (path: string) => {
    const r = await g.admin('GET', `/v1/accounts/${id}${path}`);
    expect(r.status, path).toBe(200);
    return r.json;
  };
  const account = await get('');
  const { version: _v, ...balance } = account.balance;
  delete account.balance;
  return {
    account,
    balance,
    addons: await get('/addons'),
    cards: await get('/payment-methods'),
    alerts: await get('/alerts'),
    charges: await get('/charges'),
    purchases: await Promise.all(purchaseIds.map((p) => get(`/purchases/${p}`))),
    // Which thresholds fired this cycle ("<cycleStart>|" with none is the same as absent).
    alertsFired: ((await g.redis.hget(poolKey(id), 'alertsFired')) ?? '').replace(/^-?\d+\|$/, '') || null,
  };
}

async function ledgerReplays(g: TestGateway, id: string) {
  const entries = (await g.admin('GET', `/v1/accounts/${id}/ledger?limit=500`)).json.entries as { id: string; kind: string; minutes: number; ref: string }[];
  const balance = (await g.admin('GET', `/v1/accounts/${id}/balance`)).json.balance as number;
  expect(entries.reduce((s, e) => s + e.minutes, 0)).toBe(balance);
  return entries;
}

const archived = (id: string) => waitFor(async () => (await gw.redis.hget(poolKey(id), 'unarchived')) === null && (await gw.redis.exists(poolKey(id))) === 1, 10_000);

let before: Record<string, Awaited<ReturnType<typeof view>>> = {};
let purchasesOf: Record<string, string[]> = {};
let tokens: { old: string; fresh: string };
let lostPurchase: string;

beforeAll(async () => {
  const settings = { url: TEST_REDIS_URL, clusterNodes: null, connectTimeoutMs: 5000 };
  redis = createRedis(settings);
  await connectRedis(redis, settings);
  gw = await startTestGateway({ prefix, redis });
  const A = 'acme';
  const r = await gw.admin('POST', '/v1/accounts', {
    id: A,
    name: 'Acme',
    monthlyMinutes: 100,
    billingAnchor: '2024-01-31T09:00:00.000Z',
    inboundWhenExhausted: 'reject',
    staff: [
      { id: 'alice', email: 'alice@acme.test', identity: 'acme-alice' },
      { id: 'bob', email: 'bob@acme.test', identity: 'acme-bob' },
    ],
    phoneNumbers: ['+15550001001'],
  });
  expect(r.status).toBe(201);
  expect((await gw.admin('POST', `/v1/accounts/${A}/numbers`, { phoneNumbers: ['+15550001002'] })).status).toBe(201);
  const card = await addCard(gw, ADMIN, A);
  await addCard(gw, ADMIN, A, { processorToken: 'tok_mc_test_1', brand: 'mastercard', last4: '4444' });
  const addon = await buy(gw, ADMIN, A, card.id, 1, 'addon');
  const ending = await buy(gw, ADMIN, A, card.id, 1, 'addon');
  expect((await gw.admin('DELETE', `/v1/accounts/${A}/addons/${ending.purchaseId}`)).status).toBe(200);
  expect((await gw.admin('PATCH', `/v1/accounts/${A}/plan`, { planMinutes: 300 })).json.effect).toBe('raised');
  expect((await gw.admin('PATCH', `/v1/accounts/${A}/plan`, { planMinutes: 250 })).json.effect).toBe('cut_next_cycle');
  expect((await gw.admin('POST', `/v1/accounts/${A}/adjustments`, { minutes: 5, reason: 'goodwill' })).status).toBe(201);
  const oneTime = await buy(gw, ADMIN, A, card.id, 1, 'one_time');
  expect((await gw.admin('PUT', `/v1/accounts/${A}/alerts`, { thresholdsMinutes: [600, 50, 0], email: true, webhook: false })).status).toBe(200);
  tokens = { old: await staffToken(gw, A, 'alice'), fresh: '' };
  expect((await gw.admin('POST', `/v1/accounts/${A}/staff/alice/revoke-tokens`)).status).toBeLessThan(300);
  tokens.fresh = await staffToken(gw, A, 'alice');
  expect((await gw.admin('DELETE', `/v1/accounts/${A}/staff/bob`)).status).toBeLessThan(300);
  await call(gw, 'acme-alice', 400); // 7 minutes: 605 → 598 crosses the 600 threshold
  await call(gw, 'acme-alice', 125);
  purchasesOf[A] = [addon.purchaseId, ending.purchaseId, oneTime.purchaseId];

  // A second account whose last purchase was answered a moment before the loss: its
  // ledger entry never reached the archive (removed from it below, once archived).
  const B = 'globex';
  expect(
    (await gw.admin('POST', '/v1/accounts', { id: B, name: 'Globex', monthlyMinutes: 50, staff: [{ id: 'alice', email: 'gil@globex.test', identity: 'globex-gil' }] }))
      .status,
  ).toBe(201);
  await call(gw, 'globex-gil', 61);
  const bCard = await addCard(gw, ADMIN, B);
  lostPurchase = (await buy(gw, ADMIN, B, bCard.id, 2, 'one_time')).purchaseId;
  purchasesOf[B] = [lostPurchase];

  await archived(A);
  await archived(B);
  for (const id of [A, B]) before[id] = await view(gw, id, purchasesOf[id]!);
  expect(before[A]!.alertsFired).toMatch(/\|600$/);
  expect(before[A]!.balance).toMatchObject({ balance: 595, planMinutes: 300, addonMinutes: 200, pendingPlanMinutes: 250, pendingAddonMinutes: 100, usedThisCycle: 10 });
  expect((await gw.as(tokens.old, 'GET', `/v1/accounts/${A}/balance`)).status).toBe(401);

  const gone = await queryBooks(dbUrl, 'DELETE FROM ledger_entries WHERE account_id = $1 AND ref = $2 RETURNING entry_id', [B, lostPurchase]);
  expect(gone).toHaveLength(1);

  // Redis is lost: every key of the prefix.
  await gw.stop();
  await deleteKeys(redis, prefix);
  gw = await startTestGateway({ prefix, redis });
  expect(await gw.redis.exists(poolKey(A))).toBe(0);
}, 120_000);

afterAll(async () => {
  await gw?.stop();
  if (redis) {
    await deleteKeys(redis, prefix).catch(() => {});
    redis.disconnect();
  }
  await dropTestDatabase(dbUrl).catch(() => {});
});

it('--dry-run writes nothing; bad arguments are refused', async () => {
  const keys = await prefixKeys();
  const r = await runRestore('--dry-run');
  expect(r.code, r.stderr).toBe(0);
  expect(lastJson(r.stdout)).toEqual({ accounts: 2, restored: 2, skipped: 0 });
  expect(r.stderr).toMatch(/would restore/);
  expect(await prefixKeys()).toEqual(keys);

  const bad = await runRestore('--acount', 'acme');
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/unknown argument "--acount"/);
  const unknown = await runRestore('--account', 'nobody');
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toMatch(/account nobody is not in the books/);
}, 60_000);

it('--account restores that account only; then the rest; a live account is never overwritten and a second run changes nothing', async () => {
  const one = await runRestore('--account', 'acme');
  expect(one.code, one.stderr).toBe(0);
  expect(lastJson(one.stdout)).toEqual({ accounts: 1, restored: 1, skipped: 0 });
  expect(await gw.redis.exists(poolKey('acme'))).toBe(1);
  expect(await gw.redis.exists(poolKey('globex'))).toBe(0);

  const all = await runRestore();
  expect(all.code, all.stderr).toBe(0);
  expect(lastJson(all.stdout)).toEqual({ accounts: 2, restored: 1, skipped: 1 });
  expect(all.stderr).toMatch(/acme: live in Redis, skipped/);

  // The archiver (of the running gateway) takes the entries the restore booked again first:
  // then nothing moves but what a restore would write.
  await archived('acme');
  await archived('globex');
  // The archive's due set is the running gateway's queue (its archiver leases and requeues
  // accounts on its own clock), not what a restore writes: left out of the comparison.
  const dump = async () =>
    Promise.all((await prefixKeys()).filter((k) => !k.endsWith(':archive:due')).map(async (k) => [k, await gw.redis.dump(k)]));
  const state = await dump();
  const again = await runRestore();
  expect(lastJson(again.stdout)).toEqual({ accounts: 2, restored: 0, skipped: 2 });
  expect(await dump()).toEqual(state);
}, 60_000);

it('every account answers as it did before the loss', async () => {
  for (const id of ['acme', 'globex']) {
    expect(await view(gw, id, purchasesOf[id]!)).toEqual(before[id]);
    const b = (await gw.admin('GET', `/v1/accounts/${id}/balance`)).json;
    expect(b).toMatchObject({ reserved: 0, activeCalls: 0 });
  }
});

it('tokens and staff: a revoked token stays refused, one issued after the revocation works, a removed member cannot call', async () => {
  expect((await gw.as(tokens.old, 'GET', '/v1/accounts/acme/balance')).status).toBe(401);
  expect((await gw.as(tokens.fresh, 'GET', '/v1/accounts/acme/balance')).status).toBe(200);
  const bob = await placeSoftphoneCall(gw, 'acme-bob');
  expect(bob.allowed).toBe(false);
  // Another account cannot claim the removed identity while it is held.
  const r = await gw.admin('POST', '/v1/accounts/globex/staff', { id: 'robert', email: 'r@globex.test', identity: 'acme-bob' });
  expect(r.status).toBe(409);
  expect(r.json.error.code).toBe('IDENTITY_TAKEN');
  // The numbers are the account's again: an inbound call finds it.
  const number = await gw.redis.get(`${prefix}:dir:number:+15550001002`);
  expect(number).toBe('acme');
});

it('the purchase answered just before the loss is there once: booked again after the archived ledger, which still replays', async () => {
  const entries = await ledgerReplays(gw, 'globex');
  expect(entries.filter((e) => e.ref === lostPurchase)).toHaveLength(1);
  expect(entries[entries.length - 1]).toMatchObject({ kind: 'purchase', minutes: 200, ref: lostPurchase });
  // The archiver takes it (a new entry id, after every archived one).
  await waitFor(async () => (await queryBooks(dbUrl, 'SELECT 1 FROM ledger_entries WHERE account_id = $1 AND ref = $2', ['globex', lostPurchase])).length === 1, 10_000);
  // The same Idempotency-Key would answer the same purchase, not buy again.
  expect((await gw.redis.keys(`${prefix}:{globex}:idem:*`)).length).toBe(1);
});

it('a new call settles after the restore, its entry sorts after the archived ones, and the ledger replays to the balance', async () => {
  const archivedTo = (await gw.redis.hget(poolKey('acme'), 'archivedTo'))!;
  const balance = (await gw.admin('GET', '/v1/accounts/acme/balance')).json.balance as number;
  const sid = await call(gw, 'acme-alice', 61);
  expect((await gw.admin('GET', '/v1/accounts/acme/balance')).json).toMatchObject({ balance: balance - 2, usedThisCycle: 12 });
  const entries = await ledgerReplays(gw, 'acme');
  const last = entries[entries.length - 1]!;
  expect(last).toMatchObject({ kind: 'call_debit', ref: sid });
  const [ms, seq] = last.id.split('-').map(Number) as [number, number];
  const [ams, aseq] = archivedTo.split('-').map(Number) as [number, number];
  expect(ms > ams || (ms === ams && seq > aseq)).toBe(true);
  // Archived once, nothing archived twice.
  await waitFor(async () => (await gw.redis.hget(poolKey('acme'), 'unarchived')) === null, 10_000);
  const rows = await queryBooks<{ n: number; d: number }>(dbUrl, 'SELECT count(*)::int AS n, count(DISTINCT entry_id)::int AS d FROM ledger_entries WHERE account_id = $1', ['acme']);
  expect(rows[0]!.n).toBe(entries.length);
  expect(rows[0]!.d).toBe(entries.length);
});
