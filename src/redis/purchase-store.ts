// Prepares inputs for the plan and purchase scripts (plans, cards, quotes, purchases,
// add-ons, receipts, the reset schedule) and turns their return codes into typed results. It never re-makes a
// decision a script makes. The global schedules (cycle ends, receipt hints) live outside
// any account's slot, so TypeScript keeps them, in an order that can only leave a stray
// entry behind, never lose one.
import type { Cluster, Redis } from 'ioredis';
import type {
  ChargeRecord,
  EndAddonOutcome,
  PurchaseKind,
  PurchaseOutcome,
  PurchaseRecord,
  StoredPaymentMethod,
} from '../domain/purchase-records.js';
import { billingGlobalKeys, billingKeys } from './keys.js';
import { parseSnapshot, type PoolSnapshot, type PoolStore } from './pool-store.js';
import { NO_ACCOUNT, type NoAccount } from './pool-results.js';
import type { ScriptRunner } from './scripts.js';
import { outcome } from './script-codes.js';

/** A pre-hint for a receipt comes due this long after the purchase: long after the
 *  purchase script has either written the receipt or failed. It only matters when the
 *  process died between the script and the immediate hint. */
const RECEIPT_SAFETY_HINT_MS = 60_000;

export function parsePurchase(json: string): PurchaseRecord {
  const r = JSON.parse(json) as PurchaseRecord & { balance: PoolSnapshot & { t?: string } };
  r.balance = parseSnapshot(JSON.stringify(r.balance));
  return r;
}

export class PurchaseStore {
  private readonly global: ReturnType<typeof billingGlobalKeys>;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly scripts: ScriptRunner,
    private readonly pool: PoolStore,
    private readonly prefix: string,
  ) {
    this.global = billingGlobalKeys(prefix);
  }

  keys(accountId: string) {
    return billingKeys(this.prefix, accountId);
  }

  // ── Plans (R9) ──────────────────────────────────────────────────────────────

  async changePlan(accountId: string, planMinutes: number, ref: string, now: number) {
    const reply = await this.pool.runPool('change-plan', accountId, [], [planMinutes, ref], now);
    if (!reply) return NO_ACCOUNT;
    return {
      effect: String(reply[1]) as 'raised' | 'cut_next_cycle' | 'unchanged',
      creditedMinutes: Number(reply[2]),
      snapshot: parseSnapshot(String(reply[3])),
    };
  }

  // ── Cards on file ───────────────────────────────────────────────────────────

  async addPaymentMethod(accountId: string, pm: StoredPaymentMethod, maxCards: number, now: number): Promise<'stored' | 'too_many' | NoAccount> {
    const reply = await this.pool.runPool(
      'add-payment-method',
      accountId,
      [this.keys(accountId).paymentMethods],
      [pm.id, JSON.stringify(pm), maxCards],
      now,
    );
    if (!reply) return NO_ACCOUNT;
    return outcome('add-payment-method', reply) === 'stored' ? 'stored' : 'too_many';
  }

  async removePaymentMethod(accountId: string, pmId: string, now: number): Promise<boolean | NoAccount> {
    const reply = await this.pool.runPool('remove-payment-method', accountId, [this.keys(accountId).paymentMethods], [pmId], now);
    if (!reply) return NO_ACCOUNT;
    return outcome('remove-payment-method', reply) === 'removed';
  }

  async paymentMethod(accountId: string, id: string): Promise<StoredPaymentMethod | null> {
    const raw = await this.redis.hget(this.keys(accountId).paymentMethods, id);
    return raw ? (JSON.parse(raw) as StoredPaymentMethod) : null;
  }

  async paymentMethods(accountId: string): Promise<StoredPaymentMethod[]> {
    const all = await this.redis.hvals(this.keys(accountId).paymentMethods);
    return all.map((s) => JSON.parse(s) as StoredPaymentMethod).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  // ── Quotes and purchases (R10) ──────────────────────────────────────────────

  /** Records a quote; returns the billing date (ms), or null if the id was taken. */
  async createQuote(
    accountId: string,
    q: { quoteId: string; kind: PurchaseKind; bundles: number; minutes: number; amountCents: number; currency: string; expiresAt: number; keepUntil: number; createdBy: string },
    now: number,
  ): Promise<number | null | NoAccount> {
    const reply = await this.pool.runPool(
      'create-quote',
      accountId,
      [this.keys(accountId).quote(q.quoteId)],
      [q.quoteId, q.kind, q.bundles, q.minutes, q.amountCents, q.currency, q.expiresAt, q.keepUntil, q.createdBy],
      now,
    );
    if (!reply) return NO_ACCOUNT;
    return outcome('create-quote', reply) === 'created' ? Number(reply[1]) : null;
  }

  async purchase(
    accountId: string,
    input: {
      purchaseId: string;
      fingerprint: string;
      idempotencyKeyDigest: string;
      idempotencyTtlMs: number;
      quoteId: string;
      paymentMethodId: string;
      staffId: string;
      receiptTo: string;
    },
    now: number,
  ): Promise<PurchaseOutcome | NoAccount> {
    const b = this.keys(accountId);
    // A receipt hint before the script: should this process die right after the script,
    // the receipt is still found (a hint for a purchase that did not happen is dropped).
    await this.hintReceipt(accountId, input.purchaseId, now + RECEIPT_SAFETY_HINT_MS);
    const reply = await this.pool.runPool(
      'purchase',
      accountId,
      [b.quote(input.quoteId), b.idempotency(input.idempotencyKeyDigest), b.paymentMethods, b.purchases, b.charges, b.receiptOutbox],
      [input.purchaseId, input.fingerprint, input.idempotencyTtlMs, input.quoteId, input.paymentMethodId, input.staffId, input.receiptTo],
      now,
    );
    if (!reply) return NO_ACCOUNT;
    const o = outcome('purchase', reply);
    if (o === 'bought' || o === 'replayed') {
      if (o === 'bought') await this.hintReceipt(accountId, input.purchaseId, now);
      return { ok: true, replay: o === 'replayed', purchase: parsePurchase(String(reply[1])) };
    }
    return { ok: false, reason: o };
  }

  /** Ends a recurring add-on (end-addon-6.lua); a repeat answers the record as it was. */
  async endAddon(accountId: string, purchaseId: string, now: number): Promise<EndAddonOutcome | NoAccount> {
    const b = this.keys(accountId);
    const reply = await this.pool.runPool('end-addon', accountId, [b.purchases, b.charges], [purchaseId], now);
    if (!reply) return NO_ACCOUNT;
    const o = outcome('end-addon', reply);
    if (o === 'ended' || o === 'ended_before') return { ok: true, repeat: o === 'ended_before', purchase: parsePurchase(String(reply[1])) };
    return { ok: false, reason: o };
  }

  async purchaseRecord(accountId: string, purchaseId: string): Promise<PurchaseRecord | null> {
    const raw = await this.redis.hget(this.keys(accountId).purchases, purchaseId);
    return raw ? parsePurchase(raw) : null;
  }

  /** Every charge line of the account, oldest first. */
  async allChargeRecords(accountId: string): Promise<ChargeRecord[]> {
    const raw = await this.redis.zrange(this.keys(accountId).charges, '0', '-1');
    return raw.map((s) => JSON.parse(s) as ChargeRecord);
  }

  /** Charge lines bought before `until` (ms, exclusive), oldest first. */
  async chargeRecords(accountId: string, until: number): Promise<ChargeRecord[]> {
    const raw = await this.redis.zrangebyscore(this.keys(accountId).charges, '-inf', `(${until}`);
    return raw.map((s) => JSON.parse(s) as ChargeRecord);
  }

  /** The closing record of a reset cycle (pool field "cycle:<start>", see lua/lib/cycles.lua). */
  async closedCycle(accountId: string, cycleStart: number): Promise<{ end: number; left: number; used: number; overage: number } | null> {
    const v = await this.redis.hget(this.pool.keys(accountId).pool, `cycle:${cycleStart}`);
    const m = v ? /^(-?\d+):(-?\d+):(-?\d+):(-?\d+)$/.exec(v) : null;
    return m ? { end: Number(m[1]), left: Number(m[2]), used: Number(m[3]), overage: Number(m[4]) } : null;
  }

  async anchor(accountId: string): Promise<number | null> {
    const v = await this.redis.hget(this.pool.keys(accountId).pool, 'anchor');
    return v === null ? null : Number(v);
  }

  // ── Global schedules ────────────────────────────────────────────────────────

  /** Hands out due members of a schedule to this instance for `leaseMs` (claim-due-1.lua). */
  async claimDue(which: 'cycleDue' | 'receiptsDue', now: number, leaseMs: number, max: number): Promise<string[]> {
    const reply = await this.scripts.run('claim-due', [this.global[which]], [now, leaseMs, max]);
    return reply.map(String);
  }

  async scheduleCycleEnd(accountId: string, cycleEnd: number): Promise<void> {
    await this.redis.zadd(this.global.cycleDue, cycleEnd, accountId);
  }

  async unscheduleCycle(accountId: string): Promise<void> {
    await this.redis.zrem(this.global.cycleDue, accountId);
  }

  async hintReceipt(accountId: string, purchaseId: string, at: number): Promise<void> {
    await this.redis.zadd(this.global.receiptsDue, at, `${accountId} ${purchaseId}`);
  }

  async dropReceiptHint(member: string): Promise<void> {
    await this.redis.zrem(this.global.receiptsDue, member);
  }

  // ── Receipts ────────────────────────────────────────────────────────────────

  async claimReceipt(
    accountId: string,
    purchaseId: string,
    now: number,
    leaseMs: number,
  ): Promise<{ state: 'claimed'; purchase: PurchaseRecord; attempts: number } | { state: 'none' } | { state: 'later'; dueAt: number }> {
    const b = this.keys(accountId);
    const reply = await this.scripts.run('claim-receipt', [b.receiptOutbox, b.purchases], [now, purchaseId, leaseMs]);
    const o = outcome('claim-receipt', reply);
    if (o === 'claimed') return { state: o, purchase: parsePurchase(String(reply[1])), attempts: Number(reply[2]) };
    if (o === 'later') return { state: o, dueAt: Number(reply[1]) };
    return { state: o };
  }

  async receiptSent(accountId: string, purchaseId: string, now: number): Promise<void> {
    const b = this.keys(accountId);
    await this.scripts.run('receipt-sent', [b.receiptOutbox, b.purchases], [now, purchaseId]);
  }

  async receiptFailed(accountId: string, purchaseId: string, now: number, nextAttemptAt: number, error: string): Promise<void> {
    const b = this.keys(accountId);
    await this.scripts.run('receipt-failed', [b.receiptOutbox, b.purchases], [now, purchaseId, nextAttemptAt, error]);
  }
}
