// The shapes of plans' and purchases' records as the scripts store them (no I/O): cards on
// file, order lines, purchases with their receipt state, the bill's charge lines, and the
// outcomes of the purchase and end-add-on scripts.
import type { PoolSnapshot } from './pool-snapshot.js';

export type PurchaseKind = 'addon' | 'one_time';

export interface StoredPaymentMethod {
  id: string;
  processorToken: string;
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
  /** First instant (ms) at which the card is expired: the start of the month after expiry. */
  expiresAt: number;
  createdAt: number;
}

export interface ReceiptState {
  to: string;
  status: 'queued' | 'sent';
  attempts: number;
  sentAt?: number;
  lastAttemptAt?: number;
  nextAttemptAt?: number;
  lastError?: string;
}

/** What was ordered and its price: the part quotes, purchases and charge lines share. */
export interface OrderLine {
  kind: PurchaseKind;
  bundles: number;
  minutes: number;
  amountCents: number;
  currency: string;
}

export interface PurchaseRecord extends OrderLine {
  purchaseId: string;
  quoteId: string;
  staffId: string;
  createdAt: number;
  /** End of the cycle the purchase fell in: the bill that carries it. */
  billedOn: number;
  paymentMethod: { id: string; brand: string; last4: string };
  /** The pool right after the purchase. */
  balance: PoolSnapshot;
  receipt: ReceiptState;
  /** An add-on that was ended (end-addon-6.lua): when, and the reset its minutes leave at. */
  endedAt?: number;
  endsAt?: number;
}

export interface ChargeRecord extends OrderLine {
  purchaseId: string;
  at: number;
  brand: string;
  last4: string;
  /** Set on an ended add-on's line: it recurs in no cycle starting at or after endsAt. */
  endedAt?: number;
  endsAt?: number;
}

export type EndAddonOutcome =
  | { ok: true; repeat: boolean; purchase: PurchaseRecord }
  | { ok: false; reason: 'not_found' | 'not_addon' };

export type PurchaseRefusal =
  | 'idempotency_mismatch'
  | 'quote_not_found'
  | 'quote_used'
  | 'quote_expired'
  | 'payment_method_not_found'
  | 'card_expired';

export type PurchaseOutcome = { ok: true; replay: boolean; purchase: PurchaseRecord } | { ok: false; reason: PurchaseRefusal };
