import { describe, expect, it } from 'vitest';
import { cycleAt } from '../domain/cycle.js';
import { firedThresholds, rebuildAccount, RebuildError, type AccountBooks, type ArchivedLedgerEntry, type JournalRecord } from './rebuild.js';

const ANCHOR = Date.UTC(2025, 0, 31, 9);
const c0 = cycleAt(ANCHOR, 0);
const c1 = cycleAt(ANCHOR, 1);
const c2 = cycleAt(ANCHOR, 2);
const HOLD = 2 * 3600_000;
let seq = 0;

const w = (kind: string, payload: any, outcome: any, createdAt = payload.now ?? c0.start): JournalRecord => ({ seq: ++seq, kind, payload, outcome, createdAt });
const create = (over: Partial<{ monthlyMinutes: number; staff: any[] }> = {}) =>
  w('create_account', {
    name: 'Acme',
    monthlyMinutes: over.monthlyMinutes ?? 100,
    anchor: ANCHOR,
    inboundWhenExhausted: 'allow',
    staff: over.staff ?? [{ id: 'alice', email: 'a@x.test', identity: 'acme-alice' }],
    phoneNumbers: ['+15550001001'],
    now: c0.start + 1000,
  }, { created: true });
let idMs = c0.start;
const entry = (kind: string, minutes: number, balanceAfter: number, ref: string, at: number, extra: Record<string, string> = {}): ArchivedLedgerEntry => ({
  id: `${++idMs}-0`,
  kind,
  minutes,
  balanceAfter,
  ref,
  at,
  extra,
});
const books = (over: Partial<AccountBooks>): AccountBooks => ({
  accountId: 'acme',
  writes: [],
  tail: null,
  resets: [],
  cycleTotals: [],
  currentMoves: [],
  archivedRefs: new Set(),
  ...over,
});
const snapshot = (s: Partial<Record<string, number | null>>) => ({
  planMinutes: 100, addonMinutes: 0, pendingPlanMinutes: null, pendingAddonMinutes: null, version: 1, ...s,
});

describe('rebuildAccount', () => {
  it('refuses an account with no applied create_account write', () => {
    expect(() => rebuildAccount(books({ writes: [w('create_account', {}, { voided: 'x' })] }), { removedIdentityMs: HOLD })).toThrow(RebuildError);
  });

  it('balance from the archive tail, used and overage from the cycle it is in (late debits of a closed cycle go to that cycle, R16)', () => {
    const open = entry('cycle_reset', 100, 100, 'cycle:0', c0.start + 1000);
    const reset1 = entry('cycle_reset', 60, 100, 'cycle:1', c1.start + 5, { expiredMinutes: '40', planMinutes: '100', addonMinutes: '0' });
    const debit = entry('call_debit', -7, 93, 'CA1', c1.start + 60_000, { cycleStart: String(c1.start), billedMinutes: '7', overageMinutes: '0' });
    const late = entry('call_debit', 0, 93, 'CA0', c1.start + 70_000, { cycleStart: String(c0.start), billedMinutes: '50', overageMinutes: '10', debitedMinutes: '40', late: '1' });
    const a = rebuildAccount(
      books({
        writes: [create()],
        tail: late,
        resets: [open, reset1],
        cycleTotals: [
          { cycleStart: c0.start, used: 110, overage: 10, lateDebited: 40 },
          { cycleStart: c1.start, used: 7, overage: 0, lateDebited: 0 },
        ],
        currentMoves: [reset1, debit],
      }),
      { removedIdentityMs: HOLD },
    );
    expect(a.pool).toMatchObject({ balance: 93, used: 7, overage: 0, cycle: c1, plan: 100, addon: 0 });
    expect(a.closedCycles).toEqual([{ start: c0.start, end: c0.end, left: 0, used: 110, overage: 10 }]);
    expect(a.newEntries).toEqual([]);
    expect(a.tail).toBe(late);
  });

  it('a purchase answered after the archived tail, past a reset that was lost too: the reset (pending cut applied) and the purchase are booked again', () => {
    const open = entry('cycle_reset', 100, 100, 'cycle:0', c0.start + 1000);
    const debit = entry('call_debit', -70, 30, 'CA1', c0.start + 50_000, { cycleStart: String(c0.start), billedMinutes: '70', overageMinutes: '0' });
    const now = c1.start + 3600_000;
    const rec = { purchaseId: 'pur_1', kind: 'one_time', bundles: 1, minutes: 100, amountCents: 1500, currency: 'USD', createdAt: now, paymentMethod: { id: 'pm_1', brand: 'visa', last4: '4242' }, balance: snapshot({ planMinutes: 80, version: 9 }) };
    const a = rebuildAccount(
      books({
        writes: [
          create(),
          w('change_plan', { planMinutes: 80, ref: 'plan:a', now: c0.start + 60_000 }, { effect: 'cut_next_cycle', creditedMinutes: 0, snapshot: snapshot({ pendingPlanMinutes: 80, version: 3 }) }),
          w('purchase', { purchaseId: 'pur_1', fingerprint: 'fp', idempotencyKeyDigest: 'dg', idempotencyTtlMs: 86_400_000, now }, { ok: true, replay: false, purchase: rec }),
        ],
        tail: debit,
        resets: [open],
        cycleTotals: [{ cycleStart: c0.start, used: 70, overage: 0, lateDebited: 0 }],
        currentMoves: [open, debit],
      }),
      { removedIdentityMs: HOLD },
    );
    expect(a.newEntries.map((e) => [e.kind, e.minutes, e.balanceAfter, e.ref])).toEqual([
      ['cycle_reset', 50, 80, 'cycle:1'],
      ['purchase', 100, 180, 'pur_1'],
    ]);
    expect(a.newEntries[0]!.extra).toMatchObject({ expiredMinutes: '30', planMinutes: '80' });
    expect(a.pool).toMatchObject({ balance: 180, used: 0, overage: 0, cycle: c1, plan: 80, pendingPlan: null, version: 10 });
    expect(a.closedCycles).toEqual([{ start: c0.start, end: c0.end, left: 30, used: 70, overage: 0 }]);
    expect(a.charges).toEqual([expect.objectContaining({ purchaseId: 'pur_1', at: now, brand: 'visa' })]);
    expect(a.idempotency).toEqual([expect.objectContaining({ keyDigest: 'dg', expiresAt: now + 86_400_000 })]);
  });

  it('the restored version is above any a client saw: calls bump it past the journal’s last snapshot, so the restore’s instant is its floor', () => {
    // Found by test/redis-loss.test.ts: a dashboard connected through the loss had seen
    // version 16 (calls since the last write); the pool came back at the journal's 2 + 1,
    // and every balance after the restore was dropped as older — by the gateway's hub and
    // by the client — until the version passed 16 again.
    const open = entry('cycle_reset', 100, 100, 'cycle:0', c0.start + 1000);
    const restoredAt = c0.start + 86_400_000;
    const writes = [create(), w('adjust', { minutes: 5, reason: 'r', ref: 'adj:1', now: c0.start + 2000 }, { ok: true, snapshot: snapshot({ version: 2 }) })];
    const a = rebuildAccount(books({ writes, tail: open, resets: [open], currentMoves: [open] }), { removedIdentityMs: HOLD, now: restoredAt });
    expect(a.pool.version).toBe(restoredAt);
    // A journal version above the floor (a clock behind) still wins.
    const b = rebuildAccount(books({ writes, tail: open, resets: [open], currentMoves: [open] }), { removedIdentityMs: HOLD, now: 1 });
    expect(b.pool.version).toBe(3);
  });

  it('an archived purchase, adjustment or raise is not booked again; a refused or voided write changes nothing', () => {
    const open = entry('cycle_reset', 100, 100, 'cycle:0', c0.start + 1000);
    const adj = entry('adjustment', 5, 105, 'adj:1', c0.start + 2000);
    const a = rebuildAccount(
      books({
        writes: [
          create(),
          w('adjust', { minutes: 5, reason: 'r', ref: 'adj:1', now: c0.start + 2000 }, { ok: true, snapshot: snapshot({ version: 2 }) }),
          w('adjust', { minutes: -500, reason: 'r', ref: 'adj:2', now: c0.start + 3000 }, { ok: false, balance: 105 }),
          w('adjust', { minutes: 9, reason: 'r', ref: 'adj:3', now: c0.start + 4000 }, { voided: 'the live store (Redis) refused it' }),
        ],
        tail: adj,
        resets: [open],
        currentMoves: [open, adj],
        archivedRefs: new Set(['adj:1']),
      }),
      { removedIdentityMs: HOLD },
    );
    expect(a.newEntries).toEqual([]);
    expect(a.pool).toMatchObject({ balance: 105, adjustSeq: seq - 2 });
  });

  it('token generations count every revocation and removal (also one applied again after a crash), removed identities are held', () => {
    const removedAt = c0.start + 50_000;
    const writes = [
      create({ staff: [{ id: 'alice', email: 'a@x.test', identity: 'acme-alice' }, { id: 'bob', email: 'b@x.test', identity: 'acme-bob' }] }),
      w('revoke_tokens', { staffId: 'alice' }, { revoked: true }),
      w('revoke_tokens', { staffId: 'alice' }, { revoked: true }),
      w('revoke_tokens', { staffId: 'nobody' }, { revoked: false }),
      // Removed, then the crash: applied again it answered "not removed".
      w('remove_staff', { staffId: 'bob', now: removedAt }, { removed: false }),
      w('add_staff', { member: { id: 'carol', email: 'c@x.test', identity: 'acme-carol' } }, 'added'),
      w('add_staff', { member: { id: 'carol', email: 'c2@x.test', identity: 'acme-carol2' } }, 'exists'),
      w('add_numbers', { numbers: ['+15550001002'] }, 'done'),
      w('add_card', { pm: { id: 'pm_1', brand: 'visa' }, now: 1 }, 'stored'),
      w('add_card', { pm: { id: 'pm_2', brand: 'visa' }, now: 2 }, 'stored'),
      w('add_card', { pm: { id: 'pm_3', brand: 'visa' }, now: 3 }, 'too_many'),
      w('remove_card', { pmId: 'pm_1', now: 4 }, true),
      w('set_alerts', { settings: { thresholdsMinutes: [0, 20, 20], email: true, webhook: false }, now: 5 }, { ok: true }),
    ];
    const a = rebuildAccount(books({ writes }), { removedIdentityMs: HOLD });
    expect(a.tokenGenerations.sort((x, y) => x.staffId.localeCompare(y.staffId))).toEqual([
      { staffId: 'alice', generation: 2, watermark: writes[2]!.seq },
      { staffId: 'bob', generation: 1, watermark: null },
    ]);
    expect(a.staff.map((s) => s.id)).toEqual(['alice', 'carol']);
    expect(a.staff[1]!.email).toBe('c@x.test');
    expect(a.removedIdentities).toEqual([{ identity: 'acme-bob', heldUntil: removedAt + HOLD }]);
    expect(a.numbers).toEqual(['+15550001001', '+15550001002']);
    expect(a.cards.map((c) => c.id)).toEqual(['pm_2']);
    expect(JSON.parse(a.pool.alertCfg!)).toEqual({ t: [20, 0], e: 1, w: 0 });
    // Created a moment before the loss: its opening entry is booked again.
    expect(a.newEntries).toEqual([{ kind: 'cycle_reset', minutes: 100, balanceAfter: 100, ref: 'cycle:0', at: c0.start + 1000, extra: {} }]);
  });

  it('add-ons: bought raise the add-on part, ended ones are pending until the reset, which the archive shows applied', () => {
    const open = entry('cycle_reset', 100, 100, 'cycle:0', c0.start + 1000);
    const bought = c0.start + 10_000;
    const rec = (id: string) => ({ purchaseId: id, kind: 'addon', bundles: 1, minutes: 100, amountCents: 1500, currency: 'USD', createdAt: bought, paymentMethod: { id: 'pm', brand: 'visa', last4: '4242' } });
    const writes = [
      create(),
      w('purchase', { now: bought, idempotencyTtlMs: 1, idempotencyKeyDigest: 'a', fingerprint: 'f' }, { ok: true, replay: false, purchase: { ...rec('p1'), balance: snapshot({ addonMinutes: 100 }) } }),
      w('purchase', { now: bought, idempotencyTtlMs: 1, idempotencyKeyDigest: 'b', fingerprint: 'f' }, { ok: true, replay: false, purchase: { ...rec('p2'), balance: snapshot({ addonMinutes: 200 }) } }),
      w('end_addon', { purchaseId: 'p2', now: bought + 1 }, { ok: true, repeat: false, purchase: { ...rec('p2'), endedAt: bought + 1, endsAt: c0.end } }),
    ];
    const p1 = entry('purchase', 100, 200, 'p1', bought);
    const p2 = entry('purchase', 100, 300, 'p2', bought);
    const refs = new Set(['p1', 'p2']);
    const during = rebuildAccount(books({ writes, tail: p2, resets: [open], currentMoves: [open, p1, p2], archivedRefs: refs }), { removedIdentityMs: HOLD });
    expect(during.pool).toMatchObject({ plan: 100, addon: 200, addonEnding: 100, balance: 300 });
    expect(during.charges.find((c) => c.purchaseId === 'p2')).toMatchObject({ endsAt: c0.end });
    expect(during.purchases.find((p) => p.purchaseId === 'p2')).toMatchObject({ endedAt: bought + 1, endsAt: c0.end });

    const reset = entry('cycle_reset', -100, 200, 'cycle:2', c2.start + 10, { expiredMinutes: '300', planMinutes: '100', addonMinutes: '100' });
    const after = rebuildAccount(books({ writes, tail: reset, resets: [open, reset], currentMoves: [reset], archivedRefs: refs }), { removedIdentityMs: HOLD });
    expect(after.pool).toMatchObject({ plan: 100, addon: 100, addonEnding: null, balance: 200, cycle: c2 });
    // Cycle 1 passed with nothing running: its own closing record, as lib/cycles.lua writes it.
    expect(after.closedCycles).toEqual([
      { start: c0.start, end: c0.end, left: 300, used: 0, overage: 0 },
      { start: c1.start, end: c1.end, left: 200, used: 0, overage: 0 },
    ]);
  });
});

describe('firedThresholds', () => {
  const cfg = (t: number[]) => () => JSON.stringify({ t, e: 1, w: 1 });
  const moves = (...balances: number[]) => balances.slice(1).map((b, i) => ({ minutes: b - balances[i]!, balanceAfter: b, at: i }));

  it('a fall across a threshold fires it, a rise above it re-arms it', () => {
    expect(firedThresholds(moves(0, 100, 40, 5), cfg([50, 10, 0]))).toEqual([50, 10]);
    expect(firedThresholds(moves(0, 100, 40, 60), cfg([50, 10, 0]))).toEqual([]);
    expect(firedThresholds(moves(0, 100, 40, 45, 0), cfg([50, 10, 0]))).toEqual([50, 10, 0]);
  });

  it('a threshold set while the balance was already under it is not fired until crossed', () => {
    const cfgAt = (at: number) => JSON.stringify({ t: at < 2 ? [0] : [50, 0], e: 1, w: 1 });
    expect(firedThresholds(moves(0, 100, 40, 30), cfgAt)).toEqual([]);
  });
});
