// R19, issue #17 §2: what is set up or paid for is committed to PostgreSQL before it is
// acknowledged, then applied to the live pool once; while PostgreSQL is away those writes
// answer 503 STORE_UNAVAILABLE and change nothing, and calls are still metered.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addCard, ADMIN, api, confirm, quote, staffToken, waitFor } from './support/billing.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from './support/calls.js';
import { gatewaysPerTest, uniquePrefix, type TestGateway } from './support/gateway.js';
import { queryBooks } from './support/postgres.js';
import { startPostgresServer, type PostgresServer } from './support/postgres-server.js';

const gateway = gatewaysPerTest();

const createAcme = (gw: TestGateway, minutes = 100) =>
  gw.admin('POST', '/v1/accounts', {
    id: 'acme',
    name: 'Acme',
    monthlyMinutes: minutes,
    staff: [{ id: 'alice', email: 'alice@acme.test', identity: 'acme-alice' }],
    phoneNumbers: ['+14155550001'],
  });

type Row = { seq: number; kind: string; applied: boolean; outcome: unknown; payload: Record<string, unknown> };
const journal = (gw: TestGateway) =>
  queryBooks<Row>(gw.config.postgres.url, 'SELECT seq, kind, applied_at IS NOT NULL AS applied, outcome, payload FROM writes ORDER BY seq');

it('commits every kind of setup and payment write before answering, and applies each once', async () => {
  const gw = await gateway();
  expect((await createAcme(gw)).status).toBe(201);
  expect((await gw.admin('POST', '/v1/accounts/acme/staff', { id: 'bob', email: 'bob@acme.test', identity: 'acme-bob' })).status).toBe(201);
  expect((await gw.admin('POST', '/v1/accounts/acme/numbers', { phoneNumber: '+14155550002' })).status).toBe(201);
  expect((await gw.admin('POST', '/v1/accounts/acme/adjustments', { minutes: 5, reason: 'goodwill' })).status).toBe(201);
  expect((await gw.admin('PATCH', '/v1/accounts/acme/plan', { planMinutes: 200 })).status).toBe(200);
  expect((await gw.admin('PUT', '/v1/accounts/acme/alerts', { thresholdsMinutes: [50, 0] })).status).toBe(200);
  const token = await staffToken(gw, 'acme');
  const card = await addCard(gw, token, 'acme');
  const q = await quote(gw, token, 'acme', 1, 'addon');
  const bought = await confirm(gw, token, 'acme', { quoteId: q.quoteId, paymentMethodId: card.id });
  expect(bought.status).toBe(201);
  expect((await api(gw, ADMIN, 'DELETE', `/v1/accounts/acme/addons/${bought.json.purchaseId}`)).status).toBe(200);
  const card2 = await addCard(gw, token, 'acme', { processorToken: 'tok_mc_2', last4: '4444', brand: 'mastercard' });
  expect((await api(gw, token, 'DELETE', `/v1/accounts/acme/payment-methods/${card2.id}`)).status).toBe(204);
  expect((await gw.admin('POST', '/v1/accounts/acme/staff/bob/revoke-tokens')).status).toBe(204);
  expect((await gw.admin('DELETE', '/v1/accounts/acme/staff/bob')).status).toBe(204);

  const rows = await journal(gw);
  expect(rows.map((r) => r.kind)).toEqual([
    'create_account', 'add_staff', 'add_numbers', 'adjust', 'change_plan', 'set_alerts', 'add_card', 'quote', 'purchase',
    'end_addon', 'add_card', 'remove_card', 'revoke_tokens', 'remove_staff',
  ]);
  expect(rows.every((r) => r.applied)).toBe(true);
  expect(rows.find((r) => r.kind === 'purchase')!.outcome).toMatchObject({ ok: true, purchase: { purchaseId: bought.json.purchaseId } });
  // 100 plan + 5 adjusted + 100 raised + 100 bought; the add-on keeps its minutes this cycle.
  expect((await gw.admin('GET', '/v1/accounts/acme/balance')).json.balance).toBe(305);
});

it('a refusal the live pool decides is journalled with its outcome and changes nothing', async () => {
  const gw = await gateway();
  await createAcme(gw, 10);
  const r = await gw.admin('POST', '/v1/accounts/acme/adjustments', { minutes: -50, reason: 'too much' });
  expect(r.status).toBe(409);
  expect(r.json.error.code).toBe('INSUFFICIENT_BALANCE');
  const rows = await journal(gw);
  expect(rows.at(-1)).toMatchObject({ kind: 'adjust', applied: true, outcome: { ok: false, balance: 10 } });
  expect((await gw.admin('GET', '/v1/accounts/acme/balance')).json.balance).toBe(10);
});

it('a write committed by an instance that died before applying it is applied by the replayer, once', async () => {
  const gw = await gateway();
  await createAcme(gw);
  // Issued before the revocation is applied. (Before the rows exist, too: the instance's
  // own replayer runs every 5 s and may apply them any time after they are written.)
  const token = await staffToken(gw, 'acme');
  expect((await api(gw, token, 'GET', '/v1/accounts/acme/balance')).status).toBe(200);
  // As the dead instance left them: committed, never applied; one adjustment and one revocation.
  await queryBooks(gw.config.postgres.url, `INSERT INTO writes (account_id, kind, payload, created_at) VALUES
    ('acme', 'adjust', $1, now() - interval '1 minute'), ('acme', 'revoke_tokens', $2, now() - interval '1 minute')`, [
    JSON.stringify({ minutes: 7, reason: 'left pending', ref: 'adj:pending', now: Date.now() }),
    JSON.stringify({ staffId: 'alice' }),
  ]);
  expect(await gw.writes.replay()).toBe(2);
  expect((await gw.admin('GET', '/v1/accounts/acme/balance')).json.balance).toBe(107);
  await waitFor(async () => ((await api(gw, token, 'GET', '/v1/accounts/acme/balance')).status === 401 ? true : null), 8000);

  // Applied in Redis but the mark lost (the instance died between the two): applied again as nothing.
  await queryBooks(gw.config.postgres.url, `UPDATE writes SET applied_at = NULL, created_at = now() - interval '1 minute' WHERE kind IN ('adjust', 'revoke_tokens')`);
  const fresh = await staffToken(gw, 'acme'); // issued after the revocation: must keep working
  expect(await gw.writes.replay()).toBe(2);
  expect((await gw.admin('GET', '/v1/accounts/acme/balance')).json.balance).toBe(107);
  expect((await api(gw, fresh, 'GET', '/v1/accounts/acme/balance')).status).toBe(200);
  const ledger = (await gw.admin('GET', '/v1/accounts/acme/ledger')).json.entries as { kind: string }[];
  expect(ledger.filter((e) => e.kind === 'adjustment')).toHaveLength(1);
});

describe('PostgreSQL stopped and started mid-run (private server)', () => {
  let pg: PostgresServer;
  beforeAll(async () => {
    pg = await startPostgresServer();
  }, 60_000);
  afterAll(() => pg?.destroy());

  it('refuses setup and payments with 503 STORE_UNAVAILABLE and changes nothing, meters calls meanwhile, and catches up after', async () => {
    const prefix = uniquePrefix('pgstop');
    const gw = await gateway({ prefix, env: { DATABASE_URL: pg.url('minutegate_pgstop') } });
    expect((await createAcme(gw)).status).toBe(201);
    const token = await staffToken(gw, 'acme');
    const card = await addCard(gw, token, 'acme');
    const q = await quote(gw, token, 'acme', 1, 'one_time');
    await waitFor(async () => ((await gw.redis.hget(`${prefix}:{acme}:pool`, 'unarchived')) === null ? true : null), 5000);
    const before = (await gw.admin('GET', '/v1/accounts/acme/balance')).json;

    pg.stop();
    const key = randomUUID();
    const refused = [
      await confirm(gw, token, 'acme', { quoteId: q.quoteId, paymentMethodId: card.id }, key),
      await gw.admin('POST', '/v1/accounts/acme/adjustments', { minutes: 10, reason: 'while away' }),
      await gw.admin('PATCH', '/v1/accounts/acme/plan', { planMinutes: 500 }),
      await gw.admin('POST', '/v1/accounts', { id: 'beta', name: 'Beta', monthlyMinutes: 10, staff: [{ id: 'b', email: 'b@b.test', identity: 'beta-b' }] }),
      await gw.admin('POST', '/v1/accounts/acme/staff', { id: 'carol', email: 'c@acme.test', identity: 'acme-carol' }),
      await gw.admin('PUT', '/v1/accounts/acme/alerts', { thresholdsMinutes: [1] }),
      await api(gw, token, 'POST', '/v1/accounts/acme/payment-methods', { processorToken: 'tok_x', brand: 'visa', last4: '1111', expMonth: 1, expYear: 2099 }),
    ];
    for (const r of refused) {
      expect(r.status).toBe(503);
      expect(r.json.error.code).toBe('STORE_UNAVAILABLE');
    }
    const during = (await gw.admin('GET', '/v1/accounts/acme/balance')).json;
    expect(during).toMatchObject({ balance: before.balance, planMinutes: before.planMinutes });
    expect((await gw.admin('GET', '/v1/accounts/beta')).status).toBe(404);
    // The names a refused creation claimed went back: another account may take them.
    expect((await gw.admin('GET', '/v1/accounts/acme/staff')).json.staff.map((s: { id: string }) => s.id)).toEqual(['alice']);
    const ready = await (await fetch(`${gw.url}/readyz`)).json();
    expect(ready).toMatchObject({ status: 'ready', redis: 'ok', postgres: 'unavailable' });

    // Calls are authorized and metered without PostgreSQL.
    const placed = await placeSoftphoneCall(gw, 'acme-alice');
    expect(placed.allowed).toBe(true);
    expect((await postAll(gw, answeredCallSignals(placed.callSid, 90))).every((s) => s === 200)).toBe(true);
    expect((await gw.admin('GET', '/v1/accounts/acme/balance')).json.balance).toBe(before.balance - 2);

    pg.start();
    // The same Idempotency-Key, refused while away, buys now.
    const again = await waitFor(async () => {
      const r = await confirm(gw, token, 'acme', { quoteId: q.quoteId, paymentMethodId: card.id }, key);
      return r.status === 201 ? r : null;
    }, 15_000, 300);
    expect(again.json.replay ?? false).toBe(false);
    expect((await gw.admin('GET', '/v1/accounts/acme/balance')).json.balance).toBe(before.balance - 2 + 100);
    // The call metered meanwhile reaches the archive.
    const calls = await waitFor(async () => {
      const rows = await queryBooks(gw.config.postgres.url, 'SELECT call_sid FROM calls');
      return rows.length === 1 ? rows : null;
    }, 15_000, 200);
    expect(calls[0]).toEqual({ call_sid: placed.callSid });
    const kinds = (await journal(gw)).map((r) => r.kind);
    expect(kinds).toEqual(['create_account', 'add_card', 'quote', 'purchase']);
  });
});
