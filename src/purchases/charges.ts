// What a cycle's bill carries for minutes (R10), from the charge lines the purchase script
// records. Pure: the caller reads the lines and names the cycle.
//
// A one_time purchase is one line in the cycle it was bought in. An addon is recurring: a
// line in the cycle it was bought in (the full bundle price, not prorated — its minutes
// were credited in full at once), then, in every later cycle, a line with recurring: true
// dated at that cycle's start, for as long as the add-on stays on the account: an ended
// add-on (endsAt, the reset its minutes leave the allowance at) recurs in no cycle that
// starts at or after endsAt — the same rule the pool's reset applies to its minutes.
import type { ChargeRecord } from '../domain/purchase-records.js';
import { iso } from '../domain/iso.js';

export interface ChargeLine {
  kind: 'addon' | 'one_time' | 'overage';
  recurring: boolean;
  description: string;
  minutes: number;
  amountCents: number;
  at: string;
  /** The purchase behind the line (none for overage). */
  purchaseId?: string;
  /** overage: the price of one minute. */
  unitPriceCents?: number;
}

/** The cycle's overage minutes (R6) and what one is priced at (0: shown, not billed). */
export interface Overage {
  minutes: number;
  priceCentsPerMinute: number;
}

export interface ChargeStatement {
  cycleStart: string;
  cycleEnd: string;
  /** The bill carrying these lines is drawn up at the end of the cycle. */
  billedOn: string;
  lines: ChargeLine[];
  totalCents: number;
  currency: string;
}

const bundlesText = (n: number) => `${n} bundle${n === 1 ? '' : 's'} of 100`;

export function describePurchase(kind: 'addon' | 'one_time', minutes: number, bundles: number): string {
  return kind === 'addon'
    ? `Add-on: ${minutes} more minutes every month (${bundlesText(bundles)})`
    : `One-time minutes: ${minutes} for this cycle (${bundlesText(bundles)})`;
}

/** Said on the last line an ended add-on gets, so the bill explains why it stops. */
const endedText = (r: ChargeRecord) => (r.endedAt === undefined ? '' : `; ended ${iso(r.endedAt).slice(0, 10)}, last billed this cycle`);

export function chargeStatement(
  records: ChargeRecord[],
  cycle: { start: number; end: number },
  currency: string,
  overage: Overage = { minutes: 0, priceCentsPerMinute: 0 },
): ChargeStatement {
  const lines: ChargeLine[] = [];
  for (const r of records) {
    if (r.at >= cycle.end) continue;
    if (r.at >= cycle.start) {
      lines.push({
        kind: r.kind,
        recurring: false,
        description: `${describePurchase(r.kind, r.minutes, r.bundles)}, card ${r.brand} ending ${r.last4}${endedText(r)}`,
        minutes: r.minutes,
        amountCents: r.amountCents,
        at: iso(r.at),
        purchaseId: r.purchaseId,
      });
    } else if (r.kind === 'addon' && (r.endsAt === undefined || cycle.start < r.endsAt)) {
      lines.push({
        kind: 'addon',
        recurring: true,
        description: `${describePurchase('addon', r.minutes, r.bundles)}, recurring since ${iso(r.at).slice(0, 10)}${endedText(r)}`,
        minutes: r.minutes,
        amountCents: r.amountCents,
        at: iso(cycle.start),
        purchaseId: r.purchaseId,
      });
    }
  }
  lines.sort((a, b) => a.at.localeCompare(b.at) || (a.purchaseId ?? '').localeCompare(b.purchaseId ?? ''));
  // Overage is visible where money is (R6): one line, dated at the cycle's end, after the
  // purchases; its price is the operator's choice (OVERAGE_PRICE_CENTS_PER_MINUTE).
  if (overage.minutes > 0) {
    lines.push({
      kind: 'overage',
      recurring: false,
      description: `Overage: ${overage.minutes} minute${overage.minutes === 1 ? '' : 's'} beyond the cycle's minutes`,
      minutes: overage.minutes,
      amountCents: overage.minutes * overage.priceCentsPerMinute,
      unitPriceCents: overage.priceCentsPerMinute,
      at: iso(cycle.end),
    });
  }
  return {
    cycleStart: iso(cycle.start),
    cycleEnd: iso(cycle.end),
    billedOn: iso(cycle.end),
    lines,
    totalCents: lines.reduce((s, l) => s + l.amountCents, 0),
    currency,
  };
}
