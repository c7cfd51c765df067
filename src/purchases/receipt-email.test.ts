import { describe, expect, it } from 'vitest';
import type { PurchaseRecord } from '../domain/purchase-records.js';
import { cardExpiresAt } from './views.js';
import { formatDate, formatMoney, renderReceipt } from './receipt-email.js';
import { retryDelayMs } from '../jobs/receipt-mailer.js';

describe('formatMoney', () => {
  it('formats integer cents exactly', () => {
    expect(formatMoney(3000, 'USD')).toBe('$30.00');
    expect(formatMoney(5, 'USD')).toBe('$0.05');
    expect(formatMoney(123456789, 'USD')).toBe('$1,234,567.89');
    expect(formatMoney(1999, 'EUR')).toBe('€19.99');
    expect(formatMoney(-250, 'USD')).toBe('-$2.50');
  });
});

describe('renderReceipt', () => {
  const p: PurchaseRecord = {
    purchaseId: 'pur_abc',
    kind: 'addon',
    bundles: 1,
    minutes: 100,
    amountCents: 1500,
    currency: 'USD',
    quoteId: 'quo_abc',
    staffId: 'alice',
    createdAt: Date.UTC(2030, 2, 4, 5, 6),
    billedOn: Date.UTC(2030, 2, 31),
    paymentMethod: { id: 'pm_1', brand: 'amex', last4: '0005' },
    balance: {
      accountId: 'a<b>', balance: 420, reserved: 0, available: 420, planMinutes: 400, addonMinutes: 100, monthlyMinutes: 500, pendingMonthlyMinutes: null,
      pendingPlanMinutes: null, pendingAddonMinutes: null,
      usedThisCycle: 0, overageThisCycle: 0, activeCalls: 0, cycleStart: 0, cycleEnd: 0, version: 3,
    },
    receipt: { to: 'alice@example.test', status: 'queued', attempts: 0 },
  };

  it('names what was bought, minutes, amount, card, balance after, order and date, in text and HTML', () => {
    const r = renderReceipt(p);
    expect(r.subject).toBe('Your receipt: 100 minutes added ($15.00, order pur_abc)');
    for (const s of ['Order: pur_abc', 'Date: 4 Mar 2030, 05:06 UTC', 'Minutes added: 100', 'Amount: $15.00', 'Card: American Express ending in 0005', 'Balance after purchase: 420 minutes', 'Add-on: 100 more minutes every month']) {
      expect(r.text).toContain(s);
    }
    expect(r.html).toContain('<td>American Express ending in 0005</td>');
    expect(r.text).toContain('every month after');
  });

  it('escapes HTML', () => {
    const r = renderReceipt({ ...p, paymentMethod: { id: 'pm', brand: '<script>', last4: '0005' } });
    expect(r.html).not.toContain('<script>');
    expect(r.html).toContain('&lt;script&gt;');
  });

  it('formats dates in UTC', () => {
    expect(formatDate(Date.UTC(2031, 11, 31, 23, 59, 59))).toBe('31 Dec 2031, 23:59 UTC');
  });
});

describe('retryDelayMs', () => {
  it('doubles from 5 s and stops at 15 minutes', () => {
    expect([1, 2, 3, 4].map(retryDelayMs)).toEqual([5_000, 10_000, 20_000, 40_000]);
    expect(retryDelayMs(50)).toBe(15 * 60_000);
  });
});

describe('cardExpiresAt', () => {
  it('a card is good through the last day of its expiry month', () => {
    expect(cardExpiresAt(12, 2030)).toBe(Date.UTC(2031, 0, 1));
    expect(cardExpiresAt(2, 2032)).toBe(Date.UTC(2032, 2, 1));
  });
});
