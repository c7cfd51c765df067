// Plan and purchase use cases (R8–R10): plan changes, cards on file, quotes, purchases,
// add-ons, the bill's charge lines. Routes parse and delegate here; every state change is
// one script (redis/purchase-store.ts); this layer names ids, prices quotes and turns
// outcomes into errors. The views it answers with are in views.ts.
import { createHash, randomBytes } from 'node:crypto';
import { cycleContaining } from '../domain/cycle.js';
import { AppError, notFound } from '../domain/errors.js';
import type { Logger } from '../log.js';
import type { Accounts } from '../accounts/accounts.js';
import { balanceView } from '../accounts/views.js';
import type { PurchaseKind, PurchaseRefusal, StoredPaymentMethod } from '../domain/purchase-records.js';
import { NO_ACCOUNT, type NoAccount } from '../redis/pool-results.js';
import type { Writes } from '../books/writes.js';
import type { PurchaseStore } from '../redis/purchase-store.js';
import { addonFromPurchase, addonList, type AddonList, type AddonView } from './addons.js';
import { chargeStatement, type ChargeStatement } from './charges.js';
import { cardExpiresAt, cardView, purchaseView, type PaymentMethodView, type PurchaseView, type QuoteView } from './views.js';
import { iso } from '../domain/iso.js';

export type { PaymentMethodView, PurchaseView, QuoteView } from './views.js';

export const MINUTES_PER_BUNDLE = 100;

export interface PurchaseOptions {
  bundlePriceCents: number;
  /** Price of an overage minute on the charges statement (0: shown, not billed). */
  overagePriceCentsPerMinute: number;
  currency: string;
  /** A quote can be confirmed for this long (the issue: 15 minutes). */
  quoteTtlMs: number;
  /** An Idempotency-Key answers with its first purchase for this long. */
  idempotencyTtlMs: number;
  maxCardsPerAccount: number;
}

export const DEFAULT_PURCHASE_OPTIONS: Omit<PurchaseOptions, 'bundlePriceCents' | 'currency' | 'overagePriceCentsPerMinute'> = {
  quoteTtlMs: 15 * 60_000,
  idempotencyTtlMs: 24 * 3600_000,
  maxCardsPerAccount: 20,
};

/** Expired quotes are kept this long, so a late confirm hears "expired" (409), not "unknown". */
const EXPIRED_QUOTE_MEMORY_MS = 24 * 3600_000;

const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url')}`;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

const REFUSALS: Record<PurchaseRefusal, () => AppError> = {
  idempotency_mismatch: () =>
    new AppError(422, 'IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was already used for a different request; use a new key for a new order'),
  quote_not_found: () => notFound('quote'),
  quote_used: () => new AppError(409, 'QUOTE_USED', 'this quote was already used for a purchase; ask for a new quote'),
  quote_expired: () => new AppError(409, 'QUOTE_EXPIRED', 'this quote has expired; ask for a new quote'),
  payment_method_not_found: () => new AppError(404, 'PAYMENT_METHOD_NOT_FOUND', 'no such card on file for this account'),
  card_expired: () => new AppError(422, 'CARD_EXPIRED', 'this card has expired; choose or add another card'),
};

type Or<T> = T | 'no_account';
/** NO_ACCOUNT (a symbol) as the journal can keep it: a write's outcome is JSON. */
const orNoAccount = <T>(r: T | NoAccount): Or<T> => (r === NO_ACCOUNT ? 'no_account' : (r as T));

interface QuoteWrite {
  q: { quoteId: string; kind: PurchaseKind; bundles: number; minutes: number; amountCents: number; currency: string; expiresAt: number; keepUntil: number; createdBy: string };
  now: number;
}

/** The purchase as the journal keeps it: the store's input and the request's instant. */
type PurchaseWrite = Parameters<PurchaseStore['purchase']>[1] & { now: number };

export class Purchases {
  // Writes committed to the books before they are acknowledged (R19): each applied by
  // its script, which is idempotent by the write's own ids (card id, quote id, the
  // Idempotency-Key, the add-on's end), so a write applied again after a crash is nothing.
  private readonly planWrite;
  private readonly cardWrite;
  private readonly removeCardWrite;
  private readonly quoteWrite;
  private readonly purchaseWrite;
  private readonly endAddonWrite;

  constructor(
    private readonly store: PurchaseStore,
    private readonly accounts: Accounts,
    writes: Writes,
    private readonly opts: PurchaseOptions,
    private readonly clock: () => number,
    private readonly log: Logger,
    /** Called after a purchase was recorded: wakes this instance's receipt mailer. */
    private readonly onPurchase: () => void = () => {},
  ) {
    this.planWrite = writes.register('change_plan', async (accountId, w: { planMinutes: number; ref: string; now: number }) =>
      orNoAccount(await this.store.changePlan(accountId, w.planMinutes, w.ref, w.now)),
    );
    this.cardWrite = writes.register('add_card', async (accountId, w: { pm: StoredPaymentMethod; maxCards: number; now: number }) =>
      orNoAccount(await this.store.addPaymentMethod(accountId, w.pm, w.maxCards, w.now)),
    );
    this.removeCardWrite = writes.register('remove_card', async (accountId, w: { pmId: string; now: number }) =>
      orNoAccount(await this.store.removePaymentMethod(accountId, w.pmId, w.now)),
    );
    this.quoteWrite = writes.register('quote', async (accountId, w: QuoteWrite) => orNoAccount(await this.store.createQuote(accountId, w.q, w.now)));
    this.purchaseWrite = writes.register('purchase', async (accountId, w: PurchaseWrite) => {
      const { now, ...input } = w;
      return orNoAccount(await this.store.purchase(accountId, input, now));
    });
    this.endAddonWrite = writes.register('end_addon', async (accountId, w: { purchaseId: string; now: number }) =>
      orNoAccount(await this.store.endAddon(accountId, w.purchaseId, w.now)),
    );
  }

  /** Runs a write, turning its "no such account" into a 404. */
  private async onAccount<T>(accountId: string, f: () => Promise<Or<T>>): Promise<T> {
    const r = await f();
    if (r === 'no_account') throw notFound(`account ${accountId}`);
    return r as T;
  }

  private async assertAccount(accountId: string): Promise<void> {
    if (!(await this.accounts.exists(accountId))) throw notFound(`account ${accountId}`);
  }

  // ── Plans (R9) ──────────────────────────────────────────────────────────────

  /** Sets the plan's minutes; add-ons are never touched (R9). */
  async changePlan(accountId: string, planMinutes: number) {
    const now = this.clock();
    const ref = `plan:${now.toString(36)}:${randomBytes(3).toString('hex')}`;
    await this.assertAccount(accountId);
    const r = await this.onAccount(accountId, () => this.planWrite(accountId, { planMinutes, ref, now }));
    return { effect: r.effect, creditedMinutes: r.creditedMinutes, balance: balanceView(r.snapshot) };
  }

  // ── Add-ons (R10) ───────────────────────────────────────────────────────────

  async listAddons(accountId: string): Promise<AddonList> {
    // Reading the pool applies a due reset first, so "ending" never shows a stale cycle.
    await this.accounts.balance(accountId);
    return addonList(await this.store.allChargeRecords(accountId), this.clock());
  }

  /** Ends a recurring add-on: its minutes stay this cycle and leave at the next reset,
   *  with its charge line. Ending it again answers the same record. */
  async endAddon(accountId: string, purchaseId: string): Promise<AddonView> {
    await this.assertAccount(accountId);
    const r = await this.onAccount(accountId, () => this.endAddonWrite(accountId, { purchaseId, now: this.clock() }));
    if (!r.ok) {
      throw r.reason === 'not_found'
        ? new AppError(404, 'ADDON_NOT_FOUND', `purchase ${purchaseId} does not exist in account ${accountId}`)
        : new AppError(404, 'ADDON_NOT_FOUND', `purchase ${purchaseId} is a one_time purchase, not a recurring add-on: there is nothing to end`);
    }
    if (!r.repeat) {
      this.log.info('add-on ended', { accountId, purchaseId, minutes: r.purchase.minutes, endsAt: r.purchase.endsAt });
    }
    return addonFromPurchase(r.purchase);
  }

  // ── Cards on file ───────────────────────────────────────────────────────────

  async addCard(
    accountId: string,
    card: { processorToken: string; brand: string; last4: string; expMonth: number; expYear: number },
    idempotencyKey?: string,
  ): Promise<{ card: PaymentMethodView; replay: boolean }> {
    const now = this.clock();
    const expiresAt = cardExpiresAt(card.expMonth, card.expYear);
    if (now >= expiresAt) throw new AppError(422, 'CARD_EXPIRED', 'expMonth/expYear: this card has expired');
    // With an Idempotency-Key the card's id is derived from it, so a retry finds the card
    // the first request stored instead of adding it again.
    const id = idempotencyKey ? `pm_${createHash('sha256').update(`${accountId}\n${idempotencyKey}`).digest('base64url').slice(0, 22)}` : newId('pm');
    if (idempotencyKey) {
      const earlier = await this.store.paymentMethod(accountId, id);
      if (earlier) {
        const same = (['processorToken', 'brand', 'last4', 'expMonth', 'expYear'] as const).every((f) => earlier[f] === card[f]);
        if (!same) throw new AppError(422, 'IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was already used for another card; use a new key for a new card');
        return { card: cardView(earlier, now), replay: true };
      }
    }
    const pm: StoredPaymentMethod = { id, ...card, expiresAt, createdAt: now };
    await this.assertAccount(accountId);
    const r = await this.onAccount(accountId, () => this.cardWrite(accountId, { pm, maxCards: this.opts.maxCardsPerAccount, now }));
    if (r === 'too_many') {
      throw new AppError(409, 'TOO_MANY_PAYMENT_METHODS', `an account keeps at most ${this.opts.maxCardsPerAccount} cards; remove one first`);
    }
    return { card: cardView(pm, now), replay: false };
  }

  async listCards(accountId: string): Promise<PaymentMethodView[]> {
    await this.assertAccount(accountId);
    const now = this.clock();
    return (await this.store.paymentMethods(accountId)).map((pm) => cardView(pm, now));
  }

  async removeCard(accountId: string, pmId: string): Promise<void> {
    await this.assertAccount(accountId);
    const removed = await this.onAccount(accountId, () => this.removeCardWrite(accountId, { pmId, now: this.clock() }));
    if (!removed) throw new AppError(404, 'PAYMENT_METHOD_NOT_FOUND', 'no such card on file for this account');
  }

  // ── Quotes and purchases (R10) ──────────────────────────────────────────────

  async quote(accountId: string, input: { kind: PurchaseKind; bundles: number; createdBy: string }): Promise<QuoteView> {
    const now = this.clock();
    const quoteId = newId('quo');
    const expiresAt = now + this.opts.quoteTtlMs;
    const q = {
      quoteId,
      kind: input.kind,
      bundles: input.bundles,
      minutes: input.bundles * MINUTES_PER_BUNDLE,
      amountCents: input.bundles * this.opts.bundlePriceCents,
      currency: this.opts.currency,
      expiresAt,
      keepUntil: expiresAt + EXPIRED_QUOTE_MEMORY_MS,
      createdBy: input.createdBy,
    };
    await this.assertAccount(accountId);
    const billedOn = await this.onAccount(accountId, () => this.quoteWrite(accountId, { q, now }));
    if (billedOn === null) throw new Error('quote id collision'); // 96 random bits: never
    return {
      quoteId,
      kind: q.kind,
      bundles: q.bundles,
      minutes: q.minutes,
      amountCents: q.amountCents,
      currency: q.currency,
      billedOn: iso(billedOn),
      expiresAt: iso(expiresAt),
    };
  }

  async purchase(
    accountId: string,
    input: { quoteId: string; paymentMethodId: string; staffId: string; idempotencyKey: string },
  ): Promise<{ replay: boolean; purchase: PurchaseView }> {
    const member = await this.accounts.staffMember(accountId, input.staffId);
    if (!member) {
      await this.assertAccount(accountId);
      throw new AppError(404, 'STAFF_NOT_FOUND', `staff member ${input.staffId} of account ${accountId} does not exist`);
    }
    const now = this.clock();
    const r = await this.onAccount(accountId, () =>
      this.purchaseWrite(accountId, {
        purchaseId: newId('pur'),
        // What makes two requests "the same": the order and who placed it.
        fingerprint: sha256(JSON.stringify([input.quoteId, input.paymentMethodId, input.staffId])),
        idempotencyKeyDigest: sha256(input.idempotencyKey),
        idempotencyTtlMs: this.opts.idempotencyTtlMs,
        quoteId: input.quoteId,
        paymentMethodId: input.paymentMethodId,
        staffId: input.staffId,
        receiptTo: member.email,
        now,
      }),
    );
    if (!r.ok) throw REFUSALS[r.reason]();
    if (!r.replay) {
      this.log.info('minutes purchased', {
        accountId,
        purchaseId: r.purchase.purchaseId,
        kind: r.purchase.kind,
        minutes: r.purchase.minutes,
        amountCents: r.purchase.amountCents,
      });
      this.onPurchase();
    }
    return { replay: r.replay, purchase: purchaseView(r.purchase) };
  }

  async purchaseById(accountId: string, purchaseId: string): Promise<PurchaseView> {
    const p = await this.store.purchaseRecord(accountId, purchaseId);
    if (!p) {
      await this.assertAccount(accountId);
      throw notFound(`purchase ${purchaseId}`);
    }
    return purchaseView(p);
  }

  /** What the bill of the current or the previous cycle carries for minutes. */
  async charges(accountId: string, which: 'current' | 'previous'): Promise<ChargeStatement> {
    // Reading the pool applies a due reset first, so "current" is never a stale cycle.
    const snap = await this.accounts.balance(accountId);
    let cycle = { start: Date.parse(snap.cycleStart), end: Date.parse(snap.cycleEnd) };
    if (which === 'previous') {
      const anchor = await this.store.anchor(accountId);
      if (anchor === null) throw notFound(`account ${accountId}`);
      const prev = cycleContaining(anchor, cycle.start - 1);
      cycle = { start: prev.start, end: prev.end };
    }
    // The current cycle's overage so far, or what a closed cycle ended with (late debits included, R16).
    const overageMinutes = which === 'current' ? snap.overageThisCycle : ((await this.store.closedCycle(accountId, cycle.start))?.overage ?? 0);
    return chargeStatement(await this.store.chargeRecords(accountId, cycle.end), cycle, this.opts.currency, {
      minutes: overageMinutes,
      priceCentsPerMinute: this.opts.overagePriceCentsPerMinute,
    });
  }
}
