// Rebuilds one account's live state from the books (R20, `npm run restore`): a pure fold of
// the account's journal of committed writes (migrations/002_writes.sql: what was set up or
// paid for, each with what the live pool answered) and of its archived ledger
// (001_archive.sql). No I/O: postgres/recovery-store.ts reads the books, redis/restore-store.ts
// writes the result in one script.
//
// What comes from where:
//   * the journal: profile, anchor, inbound policy, staff, numbers, removed identities,
//     token generations, cards, purchases and their charge lines, add-on ends, alert
//     settings, and the allowance (plan, add-ons, pending cut and ends) as each pool script
//     answered it;
//   * the archive: the cycle (its last cycle_reset), the balance (its last entry's
//     balanceAfter), used and overage minutes (the call_debits booked in each cycle, R16),
//     the closing records of past cycles, and which alert thresholds fired this cycle;
//   * both: a purchase, an adjustment or a plan raise answered just before the loss whose
//     ledger entry never reached the archive is booked again, as a new ledger entry after
//     the archived ones (with the cycle reset it followed, when that was lost too), so the
//     balance has it and the ledger still replays to the balance.
// Nothing live is rebuilt: no reservation, no call in progress (the audit settles those).
import { cycleAt, cycleContaining, type Cycle } from '../domain/cycle.js';
import { alertConfigJson, type AlertSettings } from '../domain/alert-records.js';
import type { ChargeRecord, PurchaseRecord, StoredPaymentMethod } from '../domain/purchase-records.js';
import type { PoolSnapshot } from '../domain/pool-snapshot.js';
import type { CreateAccountWrite, StaffMember } from '../accounts/accounts.js';
import type { ArchivedEntry } from '../postgres/archive-store.js';

/** A committed write as the journal holds it, applied (applied_at set). */
export interface JournalRecord {
  seq: number;
  kind: string;
  payload: any;
  outcome: any;
  /** When it was committed (ms): the instant of writes whose payload names none. */
  createdAt: number;
}

/** An archived ledger entry (ledger_entries), extra fields as strings. */
export type ArchivedLedgerEntry = ArchivedEntry;

/** The call_debits booked in one cycle (by their cycleStart, R16). */
export interface CycleTotals {
  cycleStart: number;
  used: number;
  overage: number;
  /** Minutes debited by late debits (R16: drawn from what the cycle had left at its reset). */
  lateDebited: number;
}

/** What the books hold of one account. */
export interface AccountBooks {
  accountId: string;
  /** Applied writes, in journal (seq) order. */
  writes: JournalRecord[];
  /** The last archived ledger entry (null: nothing archived yet). */
  tail: ArchivedLedgerEntry | null;
  /** Every archived cycle_reset, in ledger order. */
  resets: ArchivedLedgerEntry[];
  cycleTotals: CycleTotals[];
  /** The archived entries that moved the balance, from the last archived cycle_reset on. */
  currentMoves: { minutes: number; balanceAfter: number; at: number }[];
  /** Refs of archived entries that a write books (purchase, adjustment, plan_upgrade). */
  archivedRefs: ReadonlySet<string>;
}

export interface ClosedCycle {
  start: number;
  end: number;
  left: number;
  used: number;
  overage: number;
}

/** A ledger entry to append after the archived ones (a write's entry the archive lacks). */
export type NewLedgerEntry = Omit<ArchivedEntry, 'id'>;

export interface RebuiltAccount {
  accountId: string;
  name: string;
  createdAt: number;
  anchor: number;
  inboundPolicy: 'allow' | 'reject';
  pool: {
    balance: number;
    plan: number;
    addon: number;
    pendingPlan: number | null;
    addonEnding: number | null;
    cycle: Cycle;
    used: number;
    overage: number;
    /** Above every version a client saw before (they order snapshots by it): see RebuildOptions.now. */
    version: number;
    /** adjust-4.lua's watermark: the last adjustment write applied. */
    adjustSeq: number | null;
    alertCfg: string | null;
    /** "<cycleStart>|t,t…" (lib/alerts.lua), null when none fired this cycle. */
    alertsFired: string | null;
  };
  /** Closing records of past cycles, newest last (late debits are booked against them). */
  closedCycles: ClosedCycle[];
  staff: StaffMember[];
  numbers: string[];
  /** Per staff member ever revoked or removed: the generation tokens must carry, and
   *  revoke-staff-tokens-2.lua's watermark (the last revocation write applied). */
  tokenGenerations: { staffId: string; generation: number; watermark: number | null }[];
  /** Identities of removed members still held for the account (directory.ts), until when (ms). */
  removedIdentities: { identity: string; heldUntil: number }[];
  cards: StoredPaymentMethod[];
  purchases: PurchaseRecord[];
  charges: ChargeRecord[];
  /** Idempotency-Keys of purchases still within their TTL: a retry answers the purchase. */
  idempotency: { keyDigest: string; fingerprint: string; purchase: PurchaseRecord; expiresAt: number }[];
  /** The last archived entry: the restored stream's last id, so new entries sort after it. */
  tail: ArchivedLedgerEntry | null;
  newEntries: NewLedgerEntry[];
}

export interface RebuildOptions {
  /** How long a removed identity stays held for its account (metering/directory.ts). */
  removedIdentityMs: number;
  /** The restore's instant (ms): the restored pool's version is at least this. The journal's
   *  snapshots know the version only as of the last setup or payment write, and every call
   *  and reservation since bumped it further; a gateway's hub and every client drop a
   *  snapshot whose version is not above the last they saw, so a pool restored below it
   *  would look frozen to a dashboard that stayed connected through the loss. A version
   *  grows by one per change, so no pool has reached the count of milliseconds since 1970
   *  (and 13 digits stay exact in Lua and JSON). Absent (unit tests of the fold): no floor. */
  now?: number;
  /** Instances' clocks differ a little: a write this much older than the archive's last
   *  entry is taken as archived even when its entry is not found (history past retention). */
  clockSkewMs?: number;
  /** Closing records kept, as lib/cycles.lua keeps them. */
  closedCyclesKept?: number;
}

export class RebuildError extends Error {}

/** The kinds of write whose script runs the pool prologue (lib/prologue.lua): each applied
 *  a due cycle reset before anything else. */
const PROLOGUE_KINDS = new Set(['change_plan', 'adjust', 'purchase', 'end_addon', 'set_alerts', 'remove_staff', 'quote']);

const voided = (o: unknown) => o === null || o === undefined || (typeof o === 'object' && 'voided' in (o as object));
const num = (v: string | undefined) => (v === undefined || v === '' ? null : Number(v));

export function rebuildAccount(books: AccountBooks, opts: RebuildOptions): RebuiltAccount {
  const skew = opts.clockSkewMs ?? 60_000;
  const kept = opts.closedCyclesKept ?? 24;
  const writes = books.writes.filter((w) => !voided(w.outcome));
  const create = writes.find((w) => w.kind === 'create_account');
  if (!create) throw new RebuildError(`account ${books.accountId}: no applied create_account write in the journal`);
  const c = create.payload as CreateAccountWrite;
  const anchor = c.anchor;
  const at = (w: JournalRecord): number => (typeof w.payload?.now === 'number' ? w.payload.now : w.createdAt);

  // ── The allowance and the cycle, along the timeline ────────────────────────
  let plan = c.monthlyMinutes;
  let addon = 0;
  let pendingPlan: number | null = null;
  let addonEnding: number | null = null;
  let cycle = cycleContaining(anchor, c.now);
  let version = 0;
  const fromSnapshot = (s: PoolSnapshot | undefined) => {
    if (!s || typeof s.planMinutes !== 'number') return;
    plan = s.planMinutes;
    addon = s.addonMinutes;
    pendingPlan = s.pendingPlanMinutes ?? null;
    addonEnding = s.pendingAddonMinutes === null || s.pendingAddonMinutes === undefined ? null : s.addonMinutes - s.pendingAddonMinutes;
    version = Math.max(version, s.version ?? 0);
  };
  const applyPending = () => {
    if (pendingPlan !== null) plan = pendingPlan;
    if (addonEnding !== null) addon = Math.max(0, addon - addonEnding);
    pendingPlan = null;
    addonEnding = null;
  };

  // ── Balance and cycle figures: the archive's, then what it lacks ───────────
  const totals = new Map(books.cycleTotals.map((t) => [t.cycleStart, t]));
  const closed = new Map<number, ClosedCycle>();
  const tail = books.tail;
  let balance = tail ? tail.balanceAfter : 0;
  let used = 0;
  let overage = 0;
  const newEntries: NewLedgerEntry[] = [];
  /** Balance moves of the cycle the account ends in (for the alerts fired this cycle). */
  let moves = [...books.currentMoves];
  const book = (e: Omit<NewLedgerEntry, 'balanceAfter'>) => {
    balance += e.minutes;
    const entry = { ...e, balanceAfter: balance };
    newEntries.push(entry);
    moves.push({ minutes: e.minutes, balanceAfter: balance, at: e.at });
  };
  if (!tail) {
    // Created a moment before the loss: even its opening entry was not archived.
    book({ kind: 'cycle_reset', minutes: c.monthlyMinutes, ref: `cycle:${cycle.index}`, at: c.now, extra: {} });
  }

  // Archived resets, each closing the cycle before it (lib/cycles.lua's close_cycle).
  const resets = books.resets
    .map((r) => ({ r, index: Number(/^cycle:(-?\d+)$/.exec(r.ref)?.[1]) }))
    .filter((x) => Number.isSafeInteger(x.index));
  const applyArchivedReset = (r: ArchivedLedgerEntry, index: number) => {
    const next = cycleAt(anchor, index);
    if (next.start > cycle.start) {
      const t = totals.get(cycle.start);
      const expired = num(r.extra.expiredMinutes) ?? 0;
      closed.set(cycle.start, {
        start: cycle.start,
        end: cycle.end,
        left: expired - (t?.lateDebited ?? 0),
        used: t?.used ?? 0,
        overage: t?.overage ?? 0,
      });
      if (next.start > cycle.end) {
        const g = totals.get(cycle.end);
        closed.set(cycle.end, { start: cycle.end, end: next.start, left: (num(r.extra.planMinutes) ?? plan) + (num(r.extra.addonMinutes) ?? addon) - (g?.lateDebited ?? 0), used: g?.used ?? 0, overage: g?.overage ?? 0 });
      }
    }
    const p = num(r.extra.planMinutes);
    const a = num(r.extra.addonMinutes);
    if (p !== null && a !== null) {
      plan = p;
      addon = a;
      pendingPlan = null;
      addonEnding = null;
    } else if (next.start > cycle.start) {
      applyPending();
    }
    cycle = next;
  };
  // A reset the archive lacks (it was due when a write after the archived tail ran).
  let lostReset = false;
  const applyLostReset = (now: number) => {
    const next = cycleContaining(anchor, now);
    applyPending();
    const monthly = plan + addon;
    // The cycle it closes: the archive's figures, unless it was itself a lost reset's.
    const t = lostReset ? { used, overage } : (totals.get(cycle.start) ?? { used: 0, overage: 0 });
    closed.set(cycle.start, { start: cycle.start, end: cycle.end, left: balance, used: t.used, overage: t.overage });
    if (next.start > cycle.end) closed.set(cycle.end, { start: cycle.end, end: next.start, left: monthly, used: 0, overage: 0 });
    const expired = balance;
    cycle = next;
    used = 0;
    overage = 0;
    lostReset = true;
    moves = [];
    book({
      kind: 'cycle_reset',
      minutes: monthly - expired,
      ref: `cycle:${next.index}`,
      at: now,
      extra: { expiredMinutes: String(expired), planMinutes: String(plan), addonMinutes: String(addon) },
    });
  };

  // ── Payments, from the journal (who and what was set up: foldSetup) ─────────
  const setup = foldSetup(c, writes, opts.removedIdentityMs);
  const purchases = new Map<string, PurchaseRecord>();
  const idempotency: RebuiltAccount['idempotency'] = [];
  let adjustSeq: number | null = null;
  /** After the archive's last entry, and its ledger entry (if it books one) not archived. */
  const afterTail = (w: JournalRecord) => !tail || at(w) >= tail.at - skew;
  const lacksEntry = (w: JournalRecord, ref: string) => afterTail(w) && !books.archivedRefs.has(ref);

  let ri = 0;
  for (const w of writes) {
    // Archived resets that happened before this write (a reset and a write of one script
    // share their instant: the reset came first).
    while (ri < resets.length && resets[ri]!.r.at <= at(w)) {
      applyArchivedReset(resets[ri]!.r, resets[ri]!.index);
      ri++;
    }
    const o = w.outcome;
    const p = w.payload;
    if (o === 'no_account') continue;
    if (PROLOGUE_KINDS.has(w.kind) && at(w) >= cycle.end && ri >= resets.length && (!tail || at(w) > tail.at)) applyLostReset(at(w));
    // The money: the writes that move the balance or the allowance.
    switch (w.kind) {
      case 'adjust':
        if (!o?.ok) break;
        adjustSeq = w.seq;
        if (lacksEntry(w, p.ref)) {
          // Booked again as the script did (a debit beyond the balance was refused then).
          const minutes = Math.max(p.minutes, -balance);
          book({ kind: 'adjustment', minutes, ref: p.ref, at: p.now, extra: { reason: p.reason, restored: '1' } });
        }
        fromSnapshot(o.snapshot);
        break;
      case 'change_plan':
        if (!o?.snapshot) break;
        if (o.effect === 'raised' && o.creditedMinutes > 0 && lacksEntry(w, p.ref)) {
          book({
            kind: 'plan_upgrade',
            minutes: o.creditedMinutes,
            ref: p.ref,
            at: p.now,
            extra: { planMinutes: String(p.planMinutes), previousPlanMinutes: String(plan), monthlyMinutes: String(p.planMinutes + addon), previousMonthlyMinutes: String(plan + addon), restored: '1' },
          });
        }
        fromSnapshot(o.snapshot);
        break;
      case 'purchase': {
        if (!o?.ok || o.replay) break;
        const rec = o.purchase as PurchaseRecord;
        purchases.set(rec.purchaseId, { ...rec });
        if (lacksEntry(w, rec.purchaseId)) {
          book({
            kind: 'purchase',
            minutes: rec.minutes,
            ref: rec.purchaseId,
            at: p.now,
            extra: { purchaseKind: rec.kind, bundles: String(rec.bundles), amountCents: String(rec.amountCents), restored: '1' },
          });
        }
        idempotency.push({ keyDigest: p.idempotencyKeyDigest, fingerprint: p.fingerprint, purchase: rec, expiresAt: p.now + p.idempotencyTtlMs });
        fromSnapshot(rec.balance);
        break;
      }
      case 'end_addon': {
        if (!o?.ok || o.repeat) break;
        const ended = o.purchase as PurchaseRecord;
        const rec = purchases.get(ended.purchaseId);
        if (rec) Object.assign(rec, { endedAt: ended.endedAt, endsAt: ended.endsAt });
        // end-addon-6.lua: capped by the add-ons the pool knows.
        addonEnding = Math.min(addon, (addonEnding ?? 0) + ended.minutes);
        break;
      }
    }
  }
  while (ri < resets.length) {
    applyArchivedReset(resets[ri]!.r, resets[ri]!.index);
    ri++;
  }
  if (!lostReset) {
    const t = totals.get(cycle.start);
    used = t?.used ?? 0;
    overage = t?.overage ?? 0;
  }
  // A later purchase's record carries what it knew of earlier ones only; the idempotency
  // records answer with the purchase as it is now (an ended add-on shows its end).
  for (const i of idempotency) i.purchase = purchases.get(i.purchase.purchaseId) ?? i.purchase;

  const fired = firedThresholds(moves, alertSettingsAt(plan, setup.alertTimeline));

  return {
    accountId: books.accountId,
    name: c.name,
    createdAt: c.now,
    anchor,
    inboundPolicy: c.inboundWhenExhausted,
    pool: {
      balance,
      plan,
      addon,
      pendingPlan,
      addonEnding,
      cycle,
      used,
      overage,
      version: Math.max(version + 1, opts.now ?? 0),
      adjustSeq,
      alertCfg: setup.alertCfg,
      alertsFired: fired.length > 0 ? `${cycle.start}|${fired.join(',')}` : null,
    },
    closedCycles: [...closed.values()].sort((a, b) => a.start - b.start).slice(-kept),
    staff: [...setup.staff.values()],
    numbers: [...setup.numbers],
    tokenGenerations: [...setup.generations].map(([staffId, g]) => ({ staffId, ...g })),
    // Kept also when the account took the identity back: claim-identity-2.lua leaves the marker.
    removedIdentities: [...setup.removed.values()],
    cards: [...setup.cards.values()],
    purchases: [...purchases.values()],
    charges: chargesOf(purchases.values()),
    idempotency,
    tail,
    newEntries,
  };
}

/** What the journal set up, whatever the balance did: staff, numbers, token generations,
 *  identities held after a removal, cards, and the alert settings over time. */
interface Setup {
  staff: Map<string, StaffMember>;
  numbers: Set<string>;
  generations: Map<string, { generation: number; watermark: number | null }>;
  removed: Map<string, { identity: string; heldUntil: number }>;
  cards: Map<string, StoredPaymentMethod>;
  alertCfg: string | null;
  alertTimeline: { at: number; cfg: string }[];
}

function foldSetup(c: CreateAccountWrite, writes: JournalRecord[], removedIdentityMs: number): Setup {
  const setup: Setup = {
    staff: new Map(c.staff.map((s) => [s.id, s])),
    numbers: new Set(c.phoneNumbers),
    generations: new Map(),
    removed: new Map(),
    cards: new Map(),
    alertCfg: null,
    alertTimeline: [],
  };
  const bumpGeneration = (staffId: string, watermark: number | null) => {
    const g = setup.generations.get(staffId) ?? { generation: 0, watermark: null };
    g.generation += 1;
    if (watermark !== null) g.watermark = watermark;
    setup.generations.set(staffId, g);
  };
  for (const w of writes) {
    const o = w.outcome;
    const p = w.payload;
    if (o === 'no_account') continue;
    switch (w.kind) {
      case 'add_staff':
        if (o === 'added') setup.staff.set(p.member.id, p.member);
        break;
      case 'remove_staff': {
        // The fold's own staff list decides (an outcome of a removal applied again after a
        // crash says "not removed" although the first application removed the member).
        const m = setup.staff.get(p.staffId);
        if (!m) break;
        setup.staff.delete(p.staffId);
        bumpGeneration(p.staffId, null);
        setup.removed.set(m.identity, { identity: m.identity, heldUntil: p.now + removedIdentityMs });
        break;
      }
      case 'revoke_tokens':
        if (setup.staff.has(p.staffId)) bumpGeneration(p.staffId, w.seq);
        break;
      case 'add_numbers':
        if (o === 'done') for (const n of p.numbers as string[]) setup.numbers.add(n);
        break;
      case 'add_card':
        if (o === 'stored') setup.cards.set(p.pm.id, p.pm);
        break;
      case 'remove_card':
        if (o === true) setup.cards.delete(p.pmId);
        break;
      case 'set_alerts':
        if (o?.ok) {
          setup.alertCfg = alertConfigJson(p.settings as AlertSettings);
          setup.alertTimeline.push({ at: p.now, cfg: setup.alertCfg });
        }
        break;
    }
  }
  return setup;
}

/** The bill's lines of the purchases (an ended add-on with its end). */
function chargesOf(purchases: Iterable<PurchaseRecord>): ChargeRecord[] {
  return [...purchases].map((r) => ({
    purchaseId: r.purchaseId,
    kind: r.kind,
    bundles: r.bundles,
    minutes: r.minutes,
    amountCents: r.amountCents,
    currency: r.currency,
    at: r.createdAt,
    brand: r.paymentMethod.brand,
    last4: r.paymentMethod.last4,
    ...(r.endsAt === undefined ? {} : { endedAt: r.endedAt, endsAt: r.endsAt }),
  }));
}

/** The alert settings (alertCfg JSON) in force at an instant: the last set by then, else
 *  the default for the plan (lib/alerts.lua: 10% of it, and 0). */
function alertSettingsAt(plan: number, timeline: { at: number; cfg: string }[]): (t: number) => string {
  const defaultCfg = JSON.stringify(Math.floor(plan / 10) > 0 ? { t: [Math.floor(plan / 10), 0], e: 1, w: 1 } : { t: [0], e: 1, w: 1 });
  return (t) => {
    let cfg = defaultCfg;
    for (const a of timeline) if (a.at <= t) cfg = a.cfg;
    return cfg;
  };
}

/** The thresholds raised and not re-armed by the end of a cycle's balance moves (the
 *  first being its cycle_reset), as lib/alerts.lua's check_alerts decides them move by
 *  move: a fall across a threshold raises it, a rise above it re-arms it. `cfgAt` gives
 *  the settings (alertCfg JSON) in force at an instant. */
export function firedThresholds(moves: { minutes: number; balanceAfter: number; at: number }[], cfgAt: (at: number) => string): number[] {
  const fired = new Set<number>();
  for (const m of moves) {
    if (m.minutes === 0) continue;
    const after = m.balanceAfter;
    const before = after - m.minutes;
    if (after > before) {
      for (const t of [...fired]) if (after > t) fired.delete(t);
    } else {
      const { t: ts } = JSON.parse(cfgAt(m.at)) as { t: number[] };
      for (const t of ts) if (before > t && after <= t) fired.add(t);
    }
  }
  return [...fired].sort((a, b) => b - a);
}
