// Billing cycles (R8): the reset happens exactly once however many operations and
// instances find it due; the scheduler applies it on time with nothing else happening, and
// a subscriber of the account's channel sees it; live reservations carry over; nothing
// rolls over.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cycleAt, cycleContaining, cycleStartAt } from '../src/domain/cycle.js';
import { accountKeys } from '../src/redis/keys.js';
import { ADMIN, addCard, buy, staffToken } from './support/billing.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from './support/calls.js';
import { createAccount, startTestGateway, uniquePrefix, type TestClock, type TestGateway } from './support/gateway.js';
import { TEST_REDIS_URL } from './support/redis-url.js';

const balanceOf = async (gw: TestGateway, id: string) => (await gw.admin('GET', `/v1/accounts/${id}/balance`)).json;
const ledgerOf = async (gw: TestGateway, id: string) =>
  (await gw.admin('GET', `/v1/accounts/${id}/ledger?limit=500`)).json.entries as any[];

describe('a reset many operations find due at once', () => {
  const clock: TestClock = { now: Date.UTC(2032, 2, 15, 8, 0, 0) };
  let gw1: TestGateway;
  let gw2: TestGateway;
  beforeAll(async () => {
    const prefix = uniquePrefix('cyc');
    gw1 = await startTestGateway({ prefix, clock });
    // A second instance on the same keys, with its own connection and its own scheduler.
    gw2 = await startTestGateway({ prefix, clock, keepKeys: true });
  });
  afterAll(async () => {
    await gw2.stop();
    await gw1.stop();
  });

  it('happens once: one ledger entry, across two instances, calls, reads, quotes and both schedulers', async () => {
    const anchor = clock.now - 20 * 86400_000;
    const a = await createAccount(gw1, { monthlyMinutes: 60, billingAnchor: new Date(anchor).toISOString() });
    const end = cycleContaining(anchor, clock.now).end;
    // Spend some of this cycle, so the reset has something to put back.
    await gw1.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: -25, reason: 'used' });

    clock.now = end; // the very first millisecond of the next cycle
    const token = await staffToken(gw1, a.id);
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i += 1) {
      const gw = i % 2 === 0 ? gw1 : gw2;
      switch (i % 4) {
        case 0:
          ops.push(balanceOf(gw, a.id));
          break;
        case 1:
          ops.push(placeSoftphoneCall(gw, a.identity));
          break;
        case 2:
          ops.push(gw.as(token, 'POST', `/v1/accounts/${a.id}/purchases/quote`, { bundles: 1, kind: 'one_time' }));
          break;
        default:
          ops.push(gw.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: 1, reason: 'race' }));
      }
    }
    await Promise.all(ops);

    const entries = await ledgerOf(gw1, a.id);
    const resets = entries.filter((e) => e.kind === 'cycle_reset');
    // The opening allowance, then exactly one reset into cycle 1.
    expect(resets.map((e) => e.ref)).toEqual(['cycle:0', 'cycle:1']);
    expect(resets[1]).toMatchObject({ minutes: 25, balanceAfter: 60 });
    const b = await balanceOf(gw2, a.id);
    expect(b).toMatchObject({ balance: 60 + 10, usedThisCycle: 0, reserved: 10, activeCalls: 10, cycleStart: new Date(end).toISOString() });
    // Nothing written before the reset leaked into the new cycle, and replay gives the balance.
    expect(entries.reduce((s, e) => s + e.minutes, 0)).toBe(b.balance);
  });
});

describe('the scheduler, on the real clock', () => {
  let gw: TestGateway;
  let sub: Redis;
  beforeAll(async () => {
    gw = await startTestGateway();
    sub = new Redis(TEST_REDIS_URL, { lazyConnect: true });
    await sub.connect();
  });
  afterAll(async () => {
    sub.disconnect();
    await gw.stop();
  });

  it('applies resets within about a second of their instant with no request in flight; a subscriber sees them; a live call keeps its reservation', async () => {
    // A cycle that ends ~4 s from now: an anchor one month before that instant.
    const instant = Date.now() + 4_000;
    let anchor = cycleStartAt(instant, -1);
    if (cycleAt(anchor, 1).start !== instant) anchor = instant; // month-end clamping: anchor ahead instead
    const idle = await createAccount(gw, { monthlyMinutes: 40, billingAnchor: new Date(anchor).toISOString() });
    const busy = await createAccount(gw, { monthlyMinutes: 40, billingAnchor: new Date(anchor).toISOString() });
    // Anchors cluster (the 1st of the month): many accounts share the instant.
    const crowd = await Promise.all(
      Array.from({ length: 48 }, () => createAccount(gw, { monthlyMinutes: 10, billingAnchor: new Date(anchor).toISOString() })),
    );
    expect(Date.parse((await balanceOf(gw, idle.id)).cycleEnd)).toBe(instant);

    // Use some minutes on both, and leave a call in progress on one.
    await gw.admin('POST', `/v1/accounts/${idle.id}/adjustments`, { minutes: -15, reason: 'used' });
    await gw.admin('POST', `/v1/accounts/${busy.id}/adjustments`, { minutes: -15, reason: 'used' });
    const live = await placeSoftphoneCall(gw, busy.identity);
    expect(live.allowed).toBe(true);
    expect(await balanceOf(gw, busy.id)).toMatchObject({ balance: 25, reserved: 1, activeCalls: 1 });

    const prefix = gw.config.redis.prefix;
    const channels = [idle, busy, ...crowd].map((a) => accountKeys(prefix, a.id).events);
    const resets = new Map<string, { at: number; snap: any }>();
    sub.on('smessage', (_channel: string, message: string) => {
      const m = JSON.parse(message);
      if (m.t === 'balance' && m.cycleStart === instant && !resets.has(m.accountId)) {
        resets.set(m.accountId, { at: Date.now(), snap: m });
      }
    });
    for (const ch of channels) await sub.ssubscribe(ch);

    // No request touches any of these accounts from here on: only the scheduler can reset them.
    const deadline = instant + 5_000;
    while (resets.size < 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(resets.size).toBe(50);
    for (const { at } of resets.values()) {
      expect(at).toBeGreaterThanOrEqual(instant);
      expect(at - instant).toBeLessThan(1_000);
    }
    expect(resets.get(idle.id)!.snap).toMatchObject({ balance: 40, reserved: 0, available: 40, usedThisCycle: 0, overageThisCycle: 0 });
    expect(resets.get(busy.id)!.snap).toMatchObject({ balance: 40, reserved: 1, available: 39, activeCalls: 1, usedThisCycle: 0 });

    // The live call ends in the new cycle and is debited from it, once.
    await postAll(gw, answeredCallSignals(live.callSid, 125));
    expect(await balanceOf(gw, busy.id)).toMatchObject({ balance: 37, reserved: 0, activeCalls: 0, usedThisCycle: 3 });
    // Re-scheduled at the next cycle end.
    const due = await gw.redis.zscore(`${prefix}:cycles:due`, idle.id);
    expect(Number(due)).toBe(Date.parse((await balanceOf(gw, idle.id)).cycleEnd));
  });
});

describe('no rollover', () => {
  const clock: TestClock = { now: Date.UTC(2033, 6, 1, 0, 0, 0) };
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ clock });
  });
  afterAll(async () => {
    await gw.stop();
  });

  async function account(monthlyMinutes: number) {
    const anchor = clock.now - 3 * 86400_000;
    const a = await createAccount(gw, { monthlyMinutes, billingAnchor: new Date(anchor).toISOString() });
    const card = await addCard(gw, ADMIN, a.id);
    return { ...a, card, anchor, next: cycleContaining(anchor, clock.now).end };
  }

  it('unused plan minutes and one-time minutes are gone at the reset', async () => {
    const a = await account(100);
    await buy(gw, ADMIN, a.id, a.card.id, 2, 'one_time');
    await gw.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: -50, reason: 'used' });
    expect(await balanceOf(gw, a.id)).toMatchObject({ balance: 250, monthlyMinutes: 100 });
    const saved = clock.now;
    clock.now = a.next + 1;
    try {
      const b = await balanceOf(gw, a.id);
      expect(b).toMatchObject({ balance: 100, monthlyMinutes: 100, usedThisCycle: 0 });
      const reset = (await ledgerOf(gw, a.id)).filter((e) => e.kind === 'cycle_reset').at(-1);
      expect(reset).toMatchObject({ minutes: -150, balanceAfter: 100 });
      // The one-time purchase is not on the new cycle's bill.
      const charges = (await gw.admin('GET', `/v1/accounts/${a.id}/charges`)).json;
      expect(charges).toMatchObject({ lines: [], totalCents: 0 });
      const previous = (await gw.admin('GET', `/v1/accounts/${a.id}/charges?cycle=previous`)).json;
      expect(previous.lines).toHaveLength(1);
      expect(previous).toMatchObject({ totalCents: 3000, cycleEnd: new Date(a.next).toISOString() });
    } finally {
      clock.now = saved;
    }
  });

  it('an addon raises the next cycle’s allowance (not its leftover) and recurs on the bill', async () => {
    const a = await account(100);
    const p = await buy(gw, ADMIN, a.id, a.card.id, 1, 'addon');
    expect(p.balance).toMatchObject({ balance: 200, monthlyMinutes: 200 });
    await gw.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: -20, reason: 'used' });
    const saved = clock.now;
    clock.now = a.next + 1;
    try {
      expect(await balanceOf(gw, a.id)).toMatchObject({ balance: 200, monthlyMinutes: 200 });
      const current = (await gw.admin('GET', `/v1/accounts/${a.id}/charges?cycle=current`)).json;
      expect(current).toMatchObject({
        cycleStart: new Date(a.next).toISOString(),
        totalCents: 1500,
        lines: [{ kind: 'addon', recurring: true, minutes: 100, amountCents: 1500, at: new Date(a.next).toISOString(), purchaseId: p.purchaseId }],
      });
      expect(current.lines[0].description).toMatch(/recurring since/);
      const previous = (await gw.admin('GET', `/v1/accounts/${a.id}/charges?cycle=previous`)).json;
      expect(previous).toMatchObject({ totalCents: 1500, lines: [{ kind: 'addon', recurring: false, purchaseId: p.purchaseId }] });
    } finally {
      clock.now = saved;
    }
  });
});
