// The JSON cards on file, quotes and purchases are shown as, mapped from their records;
// and when a card stops being good.
import { balanceView, type BalanceView } from '../accounts/views.js';
import type { OrderLine, PurchaseRecord, StoredPaymentMethod } from '../domain/purchase-records.js';
import { orderOf } from './addons.js';
import { iso } from '../domain/iso.js';

export interface PaymentMethodView {
  id: string;
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
  expired: boolean;
}

export interface QuoteView extends OrderLine {
  quoteId: string;
  billedOn: string;
  expiresAt: string;
}

export interface PurchaseView extends OrderLine {
  purchaseId: string;
  paymentMethod: { brand: string; last4: string };
  orderedBy: string;
  createdAt: string;
  billedOn: string;
  balance: BalanceView;
  receipt: { to: string; status: 'queued' | 'sent'; attempts: number; sentAt?: string; nextAttemptAt?: string };
  /** Only on an add-on that was ended (see AddonView). */
  endedAt?: string;
  endsAt?: string;
}

export function purchaseView(p: PurchaseRecord): PurchaseView {
  const receipt: PurchaseView['receipt'] = { to: p.receipt.to, status: p.receipt.status, attempts: p.receipt.attempts };
  if (p.receipt.sentAt !== undefined) receipt.sentAt = iso(p.receipt.sentAt);
  if (p.receipt.nextAttemptAt !== undefined) receipt.nextAttemptAt = iso(p.receipt.nextAttemptAt);
  const { createdAt, ...line } = orderOf(p);
  const v: PurchaseView = {
    ...line,
    orderedBy: p.staffId,
    createdAt,
    billedOn: iso(p.billedOn),
    balance: balanceView(p.balance),
    receipt,
  };
  if (p.endedAt !== undefined) v.endedAt = iso(p.endedAt);
  if (p.endsAt !== undefined) v.endsAt = iso(p.endsAt);
  return v;
}

/** The first instant at which a card expiring in (month, year) is expired: cards are good
 *  through the last day of their expiry month (UTC). */
export function cardExpiresAt(expMonth: number, expYear: number): number {
  return Date.UTC(expYear, expMonth, 1); // month is 1-based here, so this is the month after
}

export function cardView(pm: StoredPaymentMethod, now: number): PaymentMethodView {
  return { id: pm.id, brand: pm.brand, last4: pm.last4, expMonth: pm.expMonth, expYear: pm.expYear, expired: now >= pm.expiresAt };
}
