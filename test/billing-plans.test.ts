// Plan changes (R9) through PATCH /v1/accounts/:id/plan, and how they meet the next reset
// (R8), on a clock the tests move by hand.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cycleContaining } from '../src/domain/cycle.js';
import { ADMIN, addCard, buy } from './support/billing.js';
import { createAccount, startTestGateway, type TestClock, type TestGateway } from './support/gateway.js';

const clock: TestClock = { now: Date.UTC(2031, 0, 20, 12, 0, 0) };
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ clock });
});
afterAll(async () => {
  await gw.stop();
});

const balance = async (id: string) => (await gw.admin('GET', `/v1/accounts/${id}/balance`)).json;
const ledger = async (id: string) => (await gw.admin('GET', `/v1/accounts/${id}/ledger?limit=500`)).json.entries as any[];
const plan = (id: string, monthlyMinutes: number) => gw.admin('PATCH', `/v1/accounts/${id}/plan`, { monthlyMinutes });

/** An account whose current cycle started 10 days ago; returns when the next one starts. */
async function account(monthlyMinutes: number) {
  const anchor = clock.now - 10 * 86400_000;
  const a = await createAccount(gw, { monthlyMinutes, billingAnchor: new Date(anchor).toISOString() });
  return { ...a, nextCycle: cycleContaining(anchor, clock.now).end };
}

/** Runs `f` at `at` on the gateway clock, then puts the clock back for the other tests. */
async function at<T>(when: number, f: () => Promise<T>): Promise<T> {
  const saved = clock.now;
  clock.now = when;
  try {
    return await f();
  } finally {
    clock.now = saved;
  }
}

/** Replaying the ledger gives the balance (R13). */
async function expectLedgerReplays(id: string) {
  const sum = (await ledger(id)).reduce((s, e) => s + e.minutes, 0);
  expect(sum).toBe((await balance(id)).balance);
}

describe('PATCH /v1/accounts/:id/plan', () => {
  it('a raise credits the difference at once, wherever the account is in its cycle', async () => {
    const a = await account(100);
    await gw.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: -70, reason: 'used' });
    const r = await plan(a.id, 250);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      effect: 'raised',
      creditedMinutes: 150,
      balance: { balance: 180, monthlyMinutes: 250, available: 180 },
    });
    expect(r.json.balance.pendingMonthlyMinutes).toBeUndefined();
    const up = (await ledger(a.id)).filter((e) => e.kind === 'plan_upgrade');
    expect(up).toEqual([expect.objectContaining({ minutes: 150, balanceAfter: 180, monthlyMinutes: 250, previousMonthlyMinutes: 100 })]);
    // The next cycle starts from the new allowance.
    await at(a.nextCycle + 1, async () => expect(await balance(a.id)).toMatchObject({ balance: 250, monthlyMinutes: 250 }));
    await expectLedgerReplays(a.id);
  });

  it('a cut waits for the next cycle and never claws minutes back', async () => {
    const a = await account(300);
    const r = await plan(a.id, 120);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      effect: 'cut_next_cycle',
      creditedMinutes: 0,
      balance: { balance: 300, monthlyMinutes: 300, pendingMonthlyMinutes: 120 },
    });
    expect((await ledger(a.id)).filter((e) => e.kind !== 'cycle_reset')).toEqual([]);
    // Still the full 300 to the end of this cycle …
    await at(a.nextCycle - 1, async () => expect(await balance(a.id)).toMatchObject({ balance: 300, pendingMonthlyMinutes: 120 }));
    // … then 120 from the next one on, and nothing pending any more.
    const next = await at(a.nextCycle, () => balance(a.id));
    expect(next).toMatchObject({ balance: 120, monthlyMinutes: 120, usedThisCycle: 0 });
    expect(next.pendingMonthlyMinutes).toBeUndefined();
    await expectLedgerReplays(a.id);
  });

  it('after a pending cut: a raise over the current allowance credits against it and drops the cut; the same allowance drops it; another cut replaces it', async () => {
    const a = await account(500);
    await plan(a.id, 200);
    const again = await plan(a.id, 300);
    expect(again.json).toMatchObject({ effect: 'cut_next_cycle', balance: { balance: 500, pendingMonthlyMinutes: 300 } });
    const raise = await plan(a.id, 600);
    expect(raise.json).toMatchObject({ effect: 'raised', creditedMinutes: 100, balance: { balance: 600, monthlyMinutes: 600 } });
    expect(raise.json.balance.pendingMonthlyMinutes).toBeUndefined();

    const b = await account(500);
    await plan(b.id, 200);
    const same = await plan(b.id, 500);
    expect(same.json).toMatchObject({ effect: 'unchanged', creditedMinutes: 0, balance: { balance: 500, monthlyMinutes: 500 } });
    expect(same.json.balance.pendingMonthlyMinutes).toBeUndefined();
    await at(b.nextCycle + 1, async () => expect(await balance(b.id)).toMatchObject({ balance: 500, monthlyMinutes: 500 }));
  });

  it('an addon bought while a cut is pending raises the pending allowance as well', async () => {
    const a = await account(300);
    await plan(a.id, 100);
    const card = await addCard(gw, ADMIN, a.id);
    const p = await buy(gw, ADMIN, a.id, card.id, 1, 'addon');
    expect(p.balance).toMatchObject({ balance: 400, monthlyMinutes: 400, pendingMonthlyMinutes: 200 });
    await at(a.nextCycle, async () => expect(await balance(a.id)).toMatchObject({ balance: 200, monthlyMinutes: 200 }));
  });

  it('is for the admin only; unknown accounts are 404', async () => {
    const a = await account(10);
    const token = (await gw.admin('POST', `/v1/accounts/${a.id}/staff/alice/token`)).json.token;
    const res = await fetch(`${gw.url}/v1/accounts/${a.id}/plan`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ monthlyMinutes: 10_000 }),
    });
    expect(res.status).toBe(403);
    expect((await plan('nosuch', 10)).status).toBe(404);
    expect((await balance(a.id)).monthlyMinutes).toBe(10);
  });
});
