// Issue #17's property: over random operations — calls whose signals arrive shuffled and
// repeated, purchases, plan changes, adjustments, gateway restarts — PostgreSQL ends up
// holding every ledger entry exactly once, the archived ledger replays to the balance, and
// every settled call has exactly one call detail record.
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { addCard, ADMIN, api, buy, staffToken, waitFor } from './support/billing.js';
import { answeredCallSignals, placeSoftphoneCall } from './support/calls.js';
import { Redis } from 'ioredis';
import { deleteKeys, startTestGateway, uniquePrefix, type TestGateway } from './support/gateway.js';
import { dropTestDatabase, queryBooks } from './support/postgres.js';
import { TEST_REDIS_URL } from './support/redis-url.js';

type Op =
  | { t: 'call'; seconds: number; order: number[]; repeat: number }
  | { t: 'buy'; bundles: number; kind: 'addon' | 'one_time' }
  | { t: 'plan'; minutes: number }
  | { t: 'adjust'; minutes: number }
  | { t: 'restart' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('call' as const), seconds: fc.integer({ min: 0, max: 400 }), order: fc.array(fc.nat(), { minLength: 6, maxLength: 6 }), repeat: fc.nat({ max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('buy' as const), bundles: fc.integer({ min: 1, max: 3 }), kind: fc.constantFrom('addon' as const, 'one_time' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('plan' as const), minutes: fc.integer({ min: 0, max: 300 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('adjust' as const), minutes: fc.integer({ min: -40, max: 40 }).filter((m) => m !== 0) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'restart' as const }) },
);

/** The signals in a shuffled order (a permutation drawn from `order`), one repeated. */
function shuffled<T>(items: T[], order: number[], repeat: number): T[] {
  const pool = [...items];
  const out: T[] = [];
  for (let i = 0; pool.length > 0; i++) out.push(pool.splice(order[i % order.length]! % pool.length, 1)[0]!);
  out.splice(repeat % (out.length + 1), 0, out[repeat % out.length]!);
  return out;
}

it('PostgreSQL holds every ledger entry once, the archive replays to the balance, one record per settled call', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 4, maxLength: 12 }), async (ops) => {
      const prefix = uniquePrefix('books-prop');
      let gw: TestGateway = await startTestGateway({ prefix, keepKeys: true });
      const url = gw.config.postgres.url;
      const settled: string[] = [];
      try {
        expect(
          (await gw.admin('POST', '/v1/accounts', { id: 'acme', name: 'Acme', monthlyMinutes: 60, staff: [{ id: 'alice', email: 'a@acme.test', identity: 'prop-alice' }] })).status,
        ).toBe(201);
        let card = (await addCard(gw, await staffToken(gw, 'acme'), 'acme')).id;
        for (const o of ops) {
          if (o.t === 'call') {
            const placed = await placeSoftphoneCall(gw, 'prop-alice');
            if (!placed.allowed) continue;
            for (const s of shuffled(answeredCallSignals(placed.callSid, o.seconds), o.order, o.repeat)) {
              expect((await gw.twilio('/twilio/status', s)).status).toBe(200);
            }
            settled.push(placed.callSid);
          } else if (o.t === 'buy') {
            await buy(gw, ADMIN, 'acme', card, o.bundles, o.kind);
          } else if (o.t === 'plan') {
            expect((await gw.admin('PATCH', '/v1/accounts/acme/plan', { planMinutes: o.minutes })).status).toBe(200);
          } else if (o.t === 'adjust') {
            expect([201, 409]).toContain((await gw.admin('POST', '/v1/accounts/acme/adjustments', { minutes: o.minutes, reason: 'prop' })).status);
          } else {
            await gw.stop();
            gw = await startTestGateway({ prefix, keepKeys: true });
            card = (await api(gw, ADMIN, 'GET', '/v1/accounts/acme/payment-methods')).json.paymentMethods?.[0]?.id ?? card;
          }
        }
        const ledgerKey = `${prefix}:{acme}:ledger`;
        const ids = (await gw.redis.xrange(ledgerKey, '-', '+')).map(([id]) => id);
        const rows = await waitFor(async () => {
          const r = await queryBooks<{ entry_id: string; minutes: number; balance_after: number }>(
            url,
            "SELECT entry_id, minutes, balance_after FROM ledger_entries WHERE account_id = 'acme' ORDER BY id_ms, id_seq",
          );
          return r.length >= ids.length ? r : null;
        }, 10_000, 100);
        expect(rows.map((r) => r.entry_id)).toEqual(ids);
        const balance = (await gw.admin('GET', '/v1/accounts/acme/balance')).json.balance as number;
        expect(rows.reduce((sum, r) => sum + r.minutes, 0)).toBe(balance);
        expect(rows.at(-1)!.balance_after).toBe(balance);
        const calls = await queryBooks<{ call_sid: string }>(url, "SELECT call_sid FROM calls WHERE account_id = 'acme' ORDER BY call_sid");
        expect(calls.map((c) => c.call_sid)).toEqual([...settled].sort());
      } finally {
        await gw.stop();
        const cleaner = new Redis(TEST_REDIS_URL);
        await deleteKeys(cleaner, prefix).catch(() => {});
        cleaner.disconnect();
        await dropTestDatabase(url).catch(() => {});
      }
    }),
    { numRuns: 6 },
  );
}, 240_000);
