// The receipt e-mail of a purchase, as plain text and simple HTML. Pure: the mailer hands
// it the stored purchase record, so a receipt sent late (after an SMTP outage) still shows
// the figures of the moment of purchase.
import type { PurchaseRecord } from '../domain/purchase-records.js';
import { describePurchase } from './charges.js';

export interface ReceiptEmail {
  subject: string;
  text: string;
  html: string;
}

/** "$30.00", "€12.50", "CHF 7.00": integer cents formatted without floating point. */
export function formatMoney(cents: number, currency: string): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const decimal = `${sign}${Math.trunc(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
  try {
    // A decimal string keeps Intl off floats; Node 20 formats it exactly.
    return new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(decimal as unknown as number);
  } catch {
    return `${decimal} ${currency}`;
  }
}

const brandName = (brand: string) =>
  ({ visa: 'Visa', mastercard: 'Mastercard', amex: 'American Express', discover: 'Discover', diners: 'Diners Club', jcb: 'JCB', unionpay: 'UnionPay' })[
    brand
  ] ?? brand;

/** "26 Nov 2026, 04:03 UTC" — receipts are read by people, in one unambiguous zone. */
export function formatDate(ms: number): string {
  const d = new Date(ms);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const hh = String(d.getUTCHours()).padStart(2, '0');
  const mm = String(d.getUTCMinutes()).padStart(2, '0');
  return `${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()}, ${hh}:${mm} UTC`;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);

export function renderReceipt(p: PurchaseRecord): ReceiptEmail {
  const what = describePurchase(p.kind, p.minutes, p.bundles);
  const amount = formatMoney(p.amountCents, p.currency);
  const card = `${brandName(p.paymentMethod.brand)} ending in ${p.paymentMethod.last4}`;
  const billing =
    p.kind === 'addon'
      ? `Charged with your monthly bill on ${formatDate(p.billedOn)}, and every month after while the add-on stays on your plan.`
      : `Charged with your monthly bill on ${formatDate(p.billedOn)}. One-time minutes are for this cycle only and do not roll over.`;
  const rows: [string, string][] = [
    ['Order', p.purchaseId],
    ['Date', formatDate(p.createdAt)],
    ['Purchased', what],
    ['Minutes added', String(p.minutes)],
    ['Amount', amount],
    ['Card', card],
    ['Balance after purchase', `${p.balance.balance} minutes`],
  ];
  const subject = `Your receipt: ${p.minutes} minutes added (${amount}, order ${p.purchaseId})`;
  const text = [
    'Thank you for your purchase. The minutes are in your pool already.',
    '',
    ...rows.map(([k, v]) => `${k}: ${v}`),
    '',
    billing,
    '',
  ].join('\n');
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif">',
    '<p>Thank you for your purchase. The minutes are in your pool already.</p>',
    '<table cellpadding="4">',
    ...rows.map(([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`),
    '</table>',
    `<p>${escapeHtml(billing)}</p>`,
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}
