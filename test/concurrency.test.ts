// R2 under contention: 1,000 placements at once, through two gateway instances with
// their own Redis connections, against a pool with 100 minutes available.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAccount, startTestGateway, uniquePrefix, type TestGateway } from './support/gateway.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from './support/calls.js';

let a: TestGateway;
let b: TestGateway;
beforeAll(async () => {
  const prefix = uniquePrefix('conc');
  a = await startTestGateway({ prefix, keepKeys: true });
  b = await startTestGateway({ prefix });
});
afterAll(async () => {
  await a.stop();
  await b.stop();
});

it('allows exactly floor(available / reserve) of 1,000 concurrent calls, and the books agree afterwards', async () => {
  const acct = await createAccount(a, { monthlyMinutes: 100 });
  const placed = await Promise.all(
    Array.from({ length: 1000 }, (_, i) => placeSoftphoneCall(i % 2 === 0 ? a : b, acct.identity)),
  );
  expect(placed.every((p) => p.status === 200)).toBe(true);
  const allowed = placed.filter((p) => p.allowed);
  expect(allowed).toHaveLength(100);
  expect(placed.filter((p) => p.twiml.includes('<Reject')).length).toBe(900);

  const mid = (await b.admin('GET', `/v1/accounts/${acct.id}/balance`)).json;
  expect(mid).toMatchObject({ balance: 100, reserved: 100, available: 0, activeCalls: 100 });

  // Every allowed call talks 61 s (2 minutes), completed through either instance.
  await Promise.all(allowed.map((p, i) => postAll(i % 2 === 0 ? b : a, answeredCallSignals(p.callSid, 61))));
  const end = (await a.admin('GET', `/v1/accounts/${acct.id}/balance`)).json;
  expect(end).toMatchObject({ balance: 0, reserved: 0, activeCalls: 0, usedThisCycle: 200, overageThisCycle: 100 });

  const entries: any[] = [];
  let cursor: string | null = null;
  do {
    const page: any = (await a.admin('GET', `/v1/accounts/${acct.id}/ledger?limit=100${cursor ? `&cursor=${cursor}` : ''}`)).json;
    entries.push(...page.entries);
    cursor = page.nextCursor;
  } while (cursor);
  const debits = entries.filter((e) => e.kind === 'call_debit');
  expect(debits).toHaveLength(100);
  expect(new Set(debits.map((d) => d.ref)).size).toBe(100);
  expect(debits.reduce((s, d) => s + d.billedMinutes, 0)).toBe(200);
  // Replaying the ledger gives the balance, entry by entry.
  let running = 0;
  for (const e of entries) {
    running += e.minutes;
    expect(e.balanceAfter).toBe(running);
  }
  expect(running).toBe(end.balance);
  expect(end.version).toBeGreaterThan(mid.version);
});
