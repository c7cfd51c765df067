// Plan minutes and add-on minutes kept apart (R9, R10): the balance shows both, a plan
// change never touches add-ons, an ended add-on keeps its minutes for the cycle it was
// paid for and leaves the allowance — and the bill — at the next reset. Through the real
// API on a real Redis, on a clock the tests move by hand.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cycleContaining } from '../src/domain/cycle.js';
import { ADMIN, addCard, api, buy, staffToken } from './support/billing.js';
import { createAccount, startTestGateway, type TestClock, type TestGateway } from './support/gateway.js';
import { openSocket, wsUrl } from './support/ws-client.js';

const DAY = 86_400_000;
const clock: TestClock = { now: Date.UTC(2033, 6, 20, 12, 0, 0) };
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ clock });
});
afterAll(async () => {
  await gw.stop();
});

const balance = async (id: string) => (await gw.admin('GET', `/v1/accounts/${id}/balance`)).json;
const ledger = async (id: string) => (await gw.admin('GET', `/v1/accounts/${id}/ledger?limit=500`)).json.entries as any[];
const charges = async (id: string, cycle: 'current' | 'previous' = 'current') =>
  (await gw.admin('GET', `/v1/accounts/${id}/charges?cycle=${cycle}`)).json;
const plan = (id: string, body: Record<string, unknown>) => gw.admin('PATCH', `/v1/accounts/${id}/plan`, body);
const endAddon = (id: string, purchaseId: string, bearer = ADMIN) => api(gw, bearer, 'DELETE', `/v1/accounts/${id}/addons/${purchaseId}`);
const addons = async (id: string, bearer = ADMIN) => api(gw, bearer, 'GET', `/v1/accounts/${id}/addons`);

/** An account with `planMinutes` whose cycle started 10 days ago, and a card on file. */
async function account(planMinutes: number) {
  const anchor = clock.now - 10 * DAY;
  const a = await createAccount(gw, { monthlyMinutes: planMinutes, billingAnchor: new Date(anchor).toISOString() });
  const card = await addCard(gw, ADMIN, a.id);
  return { ...a, anchor, card, nextCycle: cycleContaining(anchor, clock.now).end };
}

async function at<T>(when: number, f: () => Promise<T>): Promise<T> {
  const saved = clock.now;
  clock.now = when;
  try {
    return await f();
  } finally {
    clock.now = saved;
  }
}

async function expectLedgerReplays(id: string) {
  const sum = (await ledger(id)).reduce((s, e) => s + e.minutes, 0);
  expect(sum).toBe((await balance(id)).balance);
}

/** The bill of the current cycle and the allowance say the same about add-ons. */
async function expectStatementMatchesAllowance(id: string) {
  const [b, s] = [await balance(id), await charges(id)];
  const addonLines = s.lines.filter((l: any) => l.kind === 'addon');
  expect(addonLines.reduce((n: number, l: any) => n + l.minutes, 0)).toBe(b.addonMinutes);
  expect(b.monthlyMinutes).toBe(b.planMinutes + b.addonMinutes);
  return { balance: b, statement: s };
}

describe('the allowance shows plan and add-ons apart', () => {
  it('balance, account and purchase answers carry planMinutes, addonMinutes and their sum', async () => {
    const a = await account(300);
    expect(await balance(a.id)).toMatchObject({ planMinutes: 300, addonMinutes: 0, monthlyMinutes: 300, balance: 300 });
    const p = await buy(gw, ADMIN, a.id, a.card.id, 2, 'addon');
    expect(p.balance).toMatchObject({ planMinutes: 300, addonMinutes: 200, monthlyMinutes: 500, balance: 500 });
    await buy(gw, ADMIN, a.id, a.card.id, 1, 'one_time');
    expect(await balance(a.id)).toMatchObject({ planMinutes: 300, addonMinutes: 200, monthlyMinutes: 500, balance: 600 });
    const acc = (await gw.admin('GET', `/v1/accounts/${a.id}`)).json;
    expect(acc).toMatchObject({ planMinutes: 300, addonMinutes: 200, monthlyMinutes: 500, balance: { planMinutes: 300, addonMinutes: 200 } });
  });

  it('the WebSocket balance frames carry them, and an ended add-on as pending', async () => {
    const a = await account(120);
    const p = await buy(gw, ADMIN, a.id, a.card.id, 1, 'addon');
    const s = await openSocket(wsUrl(gw.url), { authorization: `Bearer ${await staffToken(gw, a.id)}` });
    try {
      expect(await s.next((m) => m.type === 'balance')).toMatchObject({ planMinutes: 120, addonMinutes: 100, monthlyMinutes: 220 });
      await endAddon(a.id, p.purchaseId);
      expect(await s.next((m) => m.type === 'balance' && m.pendingAddonMinutes !== undefined)).toMatchObject({
        planMinutes: 120, addonMinutes: 100, monthlyMinutes: 220, pendingAddonMinutes: 0, pendingMonthlyMinutes: 120,
      });
    } finally {
      s.close();
    }
  });

  it('an account may be created with planMinutes (monthlyMinutes is the same figure); both differing is a 400', async () => {
    const id = `acctp${Date.now().toString(36)}`;
    const r = await gw.admin('POST', '/v1/accounts', { id, name: 'P', planMinutes: 250 });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ planMinutes: 250, addonMinutes: 0, monthlyMinutes: 250, balance: { balance: 250 } });
    const both = await gw.admin('POST', '/v1/accounts', { id: `${id}b`, name: 'P', planMinutes: 250, monthlyMinutes: 300 });
    expect(both.status).toBe(400);
    expect(both.json.error.message).toMatch(/planMinutes/);
    const none = await gw.admin('POST', '/v1/accounts', { id: `${id}c`, name: 'P' });
    expect(none.status).toBe(400);
    expect(none.json.error.message).toMatch(/monthlyMinutes|planMinutes/);
    expect((await gw.admin('GET', `/v1/accounts/${id}b`)).status).toBe(404);
  });
});

describe('a plan change never touches add-ons (R9)', () => {
  it('a raise credits the plan difference only, with add-ons present', async () => {
    const a = await account(300);
    await buy(gw, ADMIN, a.id, a.card.id, 2, 'addon');
    await gw.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: -150, reason: 'used' });
    const r = await plan(a.id, { planMinutes: 400 });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      effect: 'raised',
      creditedMinutes: 100,
      balance: { balance: 450, planMinutes: 400, addonMinutes: 200, monthlyMinutes: 600 },
    });
    const up = (await ledger(a.id)).filter((e) => e.kind === 'plan_upgrade');
    expect(up).toEqual([expect.objectContaining({ minutes: 100, planMinutes: 400, previousPlanMinutes: 300, monthlyMinutes: 600, previousMonthlyMinutes: 500 })]);
    await at(a.nextCycle, async () => expect(await balance(a.id)).toMatchObject({ balance: 600, planMinutes: 400, addonMinutes: 200 }));
    await expectLedgerReplays(a.id);
  });

  it('a cut waits for the next cycle and keeps the add-ons: pendingPlanMinutes and pendingMonthlyMinutes agree', async () => {
    const a = await account(300);
    await buy(gw, ADMIN, a.id, a.card.id, 1, 'addon');
    const r = await plan(a.id, { planMinutes: 100 });
    expect(r.json).toMatchObject({
      effect: 'cut_next_cycle',
      creditedMinutes: 0,
      balance: { balance: 400, planMinutes: 300, addonMinutes: 100, monthlyMinutes: 400, pendingPlanMinutes: 100, pendingMonthlyMinutes: 200 },
    });
    const next = await at(a.nextCycle, () => balance(a.id));
    expect(next).toMatchObject({ balance: 200, planMinutes: 100, addonMinutes: 100, monthlyMinutes: 200 });
    expect(next.pendingPlanMinutes).toBeUndefined();
    expect(next.pendingMonthlyMinutes).toBeUndefined();
    await expectLedgerReplays(a.id);
  });

  it('monthlyMinutes in the body is the plan: the same plan with add-ons on top is unchanged, not a cut', async () => {
    const a = await account(300);
    await buy(gw, ADMIN, a.id, a.card.id, 1, 'addon');
    const r = await plan(a.id, { monthlyMinutes: 300 });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ effect: 'unchanged', creditedMinutes: 0, balance: { planMinutes: 300, addonMinutes: 100, monthlyMinutes: 400 } });
    expect(r.json.balance.pendingMonthlyMinutes).toBeUndefined();
    await at(a.nextCycle, async () => expect(await balance(a.id)).toMatchObject({ balance: 400, planMinutes: 300, addonMinutes: 100 }));
  });

  it('an add-on bought after a pending cut joins the pending allowance; a raise after it drops only the cut', async () => {
    const a = await account(500);
    await plan(a.id, { planMinutes: 200 });
    const p = await buy(gw, ADMIN, a.id, a.card.id, 1, 'addon');
    expect(p.balance).toMatchObject({ balance: 600, planMinutes: 500, addonMinutes: 100, pendingPlanMinutes: 200, pendingMonthlyMinutes: 300 });
    const raise = await plan(a.id, { planMinutes: 600 });
    expect(raise.json).toMatchObject({ effect: 'raised', creditedMinutes: 100, balance: { balance: 700, planMinutes: 600, addonMinutes: 100, monthlyMinutes: 700 } });
    expect(raise.json.balance.pendingPlanMinutes).toBeUndefined();
  });

  it('validates the body: planMinutes or its alias, not two different figures', async () => {
    const a = await account(100);
    const cases: [unknown, RegExp][] = [
      [{}, /^planMinutes:/],
      [{ planMinutes: -1 }, /^planMinutes:/],
      [{ planMinutes: 2.5 }, /^planMinutes:/],
      [{ planMinutes: 100, monthlyMinutes: 200 }, /planMinutes/],
      [{ planMinutes: 100, addonMinutes: 5 }, /addonMinutes/],
    ];
    for (const [body, msg] of cases) {
      const r = await plan(a.id, body as Record<string, unknown>);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.message).toMatch(msg);
    }
    expect((await plan(a.id, { planMinutes: 150, monthlyMinutes: 150 })).json).toMatchObject({ effect: 'raised', creditedMinutes: 50 });
  });
});

describe('ending an add-on', () => {
  it('keeps its minutes this cycle, drops them and its charge line at the next reset', async () => {
    const a = await account(200);
    const keep = await buy(gw, ADMIN, a.id, a.card.id, 1, 'addon');
    const drop = await buy(gw, ADMIN, a.id, a.card.id, 2, 'addon');
    const listed = await addons(a.id);
    expect(listed.status).toBe(200);
    const byId = (x: any, y: any) => x[0].localeCompare(y[0]);
    expect(listed.json.addons.map((x: any) => [x.purchaseId, x.minutes]).sort(byId)).toEqual(
      [
        [keep.purchaseId, 100],
        [drop.purchaseId, 200],
      ].sort(byId),
    );
    expect(listed.json.ending).toEqual([]);

    const r = await endAddon(a.id, drop.purchaseId);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      purchaseId: drop.purchaseId,
      kind: 'addon',
      minutes: 200,
      endedAt: new Date(clock.now).toISOString(),
      endsAt: new Date(a.nextCycle).toISOString(),
    });
    // Still in this cycle's allowance (it was paid for), shown as leaving at the reset.
    expect(await balance(a.id)).toMatchObject({
      balance: 500, planMinutes: 200, addonMinutes: 300, monthlyMinutes: 500, pendingAddonMinutes: 100, pendingMonthlyMinutes: 300,
    });
    const after = (await addons(a.id)).json;
    expect(after.addons.map((x: any) => x.purchaseId)).toEqual([keep.purchaseId]);
    expect(after.ending).toEqual([expect.objectContaining({ purchaseId: drop.purchaseId, endsAt: new Date(a.nextCycle).toISOString() })]);
    expect((await gw.admin('GET', `/v1/accounts/${a.id}/purchases/${drop.purchaseId}`)).json).toMatchObject({
      endedAt: new Date(clock.now).toISOString(),
      endsAt: new Date(a.nextCycle).toISOString(),
    });
    await expectStatementMatchesAllowance(a.id);

    // Ending it again answers the same record and changes nothing.
    const again = await endAddon(a.id, drop.purchaseId);
    expect(again.status).toBe(200);
    expect(again.json).toEqual(r.json);
    expect((await balance(a.id)).pendingAddonMinutes).toBe(100);

    await at(a.nextCycle - 1, async () => expect(await balance(a.id)).toMatchObject({ balance: 500, addonMinutes: 300 }));
    await at(a.nextCycle, async () => {
      const b = await balance(a.id);
      expect(b).toMatchObject({ balance: 300, planMinutes: 200, addonMinutes: 100, monthlyMinutes: 300 });
      expect(b.pendingAddonMinutes).toBeUndefined();
      expect(b.pendingMonthlyMinutes).toBeUndefined();
      const s = await charges(a.id);
      expect(s.lines.map((l: any) => [l.purchaseId, l.recurring])).toEqual([[keep.purchaseId, true]]);
      const prev = await charges(a.id, 'previous');
      expect(prev.lines.map((l: any) => l.purchaseId).sort()).toEqual([keep.purchaseId, drop.purchaseId].sort());
      const list = (await addons(a.id)).json;
      expect(list.addons.map((x: any) => x.purchaseId)).toEqual([keep.purchaseId]);
      expect(list.ending).toEqual([]);
      await expectStatementMatchesAllowance(a.id);
      // Ending it after it left changes nothing either.
      expect((await endAddon(a.id, drop.purchaseId)).json).toEqual(r.json);
      expect(await balance(a.id)).toMatchObject({ balance: 300, addonMinutes: 100 });
    });
    await at(a.nextCycle + 40 * DAY, async () => expect(await balance(a.id)).toMatchObject({ balance: 300, addonMinutes: 100 }));
    await expectLedgerReplays(a.id);
  });

  it('the reset applies a pending plan cut and add-on ends together, exactly once, however many find it due', async () => {
    const a = await account(400);
    const x = await buy(gw, ADMIN, a.id, a.card.id, 1, 'addon');
    const y = await buy(gw, ADMIN, a.id, a.card.id, 1, 'addon');
    await plan(a.id, { planMinutes: 150 });
    await endAddon(a.id, x.purchaseId);
    expect(await balance(a.id)).toMatchObject({ monthlyMinutes: 600, pendingPlanMinutes: 150, pendingAddonMinutes: 100, pendingMonthlyMinutes: 250 });
    await at(a.nextCycle, async () => {
      await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? balance(a.id) : charges(a.id))));
      const b = await balance(a.id);
      expect(b).toMatchObject({ balance: 250, planMinutes: 150, addonMinutes: 100, monthlyMinutes: 250 });
      const resets = (await ledger(a.id)).filter((e) => e.kind === 'cycle_reset');
      expect(resets).toHaveLength(2);
      expect((await charges(a.id)).lines.map((l: any) => l.purchaseId)).toEqual([y.purchaseId]);
    });
    // A lazy reset skipping cycles applies the pending changes once, not once per cycle.
    await at(a.nextCycle + 95 * DAY, async () => expect(await balance(a.id)).toMatchObject({ balance: 250, planMinutes: 150, addonMinutes: 100 }));
    await expectLedgerReplays(a.id);
  });

  it('404 for an unknown purchase or a one_time one; staff of the account may end one, others may not', async () => {
    const a = await account(100);
    const b = await account(100);
    const once = await buy(gw, ADMIN, a.id, a.card.id, 1, 'one_time');
    const add = await buy(gw, ADMIN, a.id, a.card.id, 1, 'addon');
    const unknown = await endAddon(a.id, 'pur_unknown000000');
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe('ADDON_NOT_FOUND');
    const oneTime = await endAddon(a.id, once.purchaseId);
    expect(oneTime.status).toBe(404);
    expect(oneTime.json.error.message).toMatch(/one_time/);
    // Another account's add-on is unknown here.
    expect((await endAddon(b.id, add.purchaseId)).status).toBe(404);
    expect((await endAddon(a.id, '..%2Fx')).status).toBe(400);
    expect((await endAddon('nosuchaccount', add.purchaseId)).status).toBe(404);
    expect((await addons('nosuchaccount')).status).toBe(404);

    const tokenB = await staffToken(gw, b.id);
    expect((await endAddon(a.id, add.purchaseId, tokenB)).status).toBe(403);
    expect((await addons(a.id, tokenB)).status).toBe(403);
    expect((await api(gw, 'nonsense', 'GET', `/v1/accounts/${a.id}/addons`)).status).toBe(401);
    expect(await balance(a.id)).toMatchObject({ addonMinutes: 100 });
    expect((await balance(a.id)).pendingAddonMinutes).toBeUndefined();

    const tokenA = await staffToken(gw, a.id);
    expect((await addons(a.id, tokenA)).json.addons).toHaveLength(1);
    const ended = await endAddon(a.id, add.purchaseId, tokenA);
    expect(ended.status).toBe(200);
    expect((await balance(a.id)).pendingAddonMinutes).toBe(0);
  });
});

describe('the bill and the allowance agree across cycles', () => {
  it('every recurring add-on line has its minutes in that cycle, and no add-on minutes come without their line', async () => {
    const a = await account(100);
    const saved = clock.now;
    try {
      const cycleAfter = (t: number) => cycleContaining(a.anchor, t).end;
      // Cycle 0: two add-ons.
      const p1 = await buy(gw, ADMIN, a.id, a.card.id, 1, 'addon');
      const p2 = await buy(gw, ADMIN, a.id, a.card.id, 2, 'addon');
      await expectStatementMatchesAllowance(a.id);
      // Cycle 1: end p1 on day 3, buy p3 on day 5, cut the plan.
      clock.now = cycleAfter(clock.now) + 3 * DAY;
      let { balance: b } = await expectStatementMatchesAllowance(a.id);
      expect(b).toMatchObject({ balance: 400, addonMinutes: 300 });
      await endAddon(a.id, p1.purchaseId);
      clock.now += 2 * DAY;
      const p3 = await buy(gw, ADMIN, a.id, a.card.id, 1, 'addon');
      await plan(a.id, { planMinutes: 50 });
      ({ balance: b } = await expectStatementMatchesAllowance(a.id));
      expect(b).toMatchObject({ planMinutes: 100, addonMinutes: 400, pendingMonthlyMinutes: 350 });
      // Cycle 2: p1 gone from both; end p2 and p3.
      clock.now = cycleAfter(clock.now);
      ({ balance: b } = await expectStatementMatchesAllowance(a.id));
      expect(b).toMatchObject({ balance: 350, planMinutes: 50, addonMinutes: 300 });
      expect((await charges(a.id)).lines.map((l: any) => l.purchaseId).sort()).toEqual([p2.purchaseId, p3.purchaseId].sort());
      await endAddon(a.id, p2.purchaseId);
      await endAddon(a.id, p3.purchaseId);
      await expectStatementMatchesAllowance(a.id);
      // Cycles 3 and 4: the plan alone, no add-on lines.
      for (let i = 0; i < 2; i += 1) {
        clock.now = cycleAfter(clock.now) + DAY;
        ({ balance: b } = await expectStatementMatchesAllowance(a.id));
        expect(b).toMatchObject({ balance: 50, planMinutes: 50, addonMinutes: 0 });
        expect((await charges(a.id)).lines).toEqual([]);
      }
      await expectLedgerReplays(a.id);
    } finally {
      clock.now = saved;
    }
  });
});
