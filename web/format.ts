// How numbers, money, dates and durations read in the app.
const n = new Intl.NumberFormat('en-US');
export const minutes = (m: number) => n.format(m);

export function money(cents: number, currency: string): string {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(cents / 100);
}

export function day(iso: string): string {
  return new Date(iso).toLocaleDateString('en-US', { month: 'short', day: 'numeric', year: 'numeric' });
}

/** "Nov 30": for tight spots where the year is obvious. */
export function shortDay(iso: string): string {
  return new Date(iso).toLocaleDateString('en-US', { month: 'short', day: 'numeric' });
}

/** 0:07, 2:05, 1:02:03 */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export function brandName(brand: string): string {
  const names: Record<string, string> = { amex: 'Amex', jcb: 'JCB', unionpay: 'UnionPay', mastercard: 'Mastercard' };
  return names[brand] ?? brand.charAt(0).toUpperCase() + brand.slice(1);
}

/** "Visa ending 4242" */
export function cardText(c: { brand: string; last4: string }): string {
  return `${brandName(c.brand)} ending ${c.last4}`;
}

/** "12/2034" */
export function expiryText(c: { expMonth: number; expYear: number }): string {
  return `${String(c.expMonth).padStart(2, '0')}/${c.expYear}`;
}

/** "Dec 6, 10:42:13 AM": when the figures on screen are from. */
export function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString('en-US', { hour: 'numeric', minute: '2-digit', second: '2-digit' });
}
