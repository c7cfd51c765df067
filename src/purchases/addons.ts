// Recurring add-ons as the API shows them (R10): what was bought, and when it ended and
// leaves the allowance. Pure: built from the stored purchase record or charge line.
import type { ChargeRecord, OrderLine, PurchaseRecord } from '../domain/purchase-records.js';
import { iso, isoOrNull } from '../domain/iso.js';

export interface AddonView extends OrderLine {
  purchaseId: string;
  paymentMethod: { brand: string; last4: string };
  createdAt: string;
  /** When it was ended (null while it recurs). */
  endedAt: string | null;
  /** The reset at which its minutes leave the allowance: the end of the cycle it was
   *  ended in. No bill of a cycle starting then or later carries it. */
  endsAt: string | null;
}

export interface AddonList {
  /** Add-ons that recur: on every coming bill, in every coming allowance. */
  addons: AddonView[];
  /** Ended add-ons whose minutes are still in this cycle's allowance (they were paid for). */
  ending: AddonView[];
}

/** What every view of a purchase shows of its order: the line, its id, the card, when. */
export function orderOf(p: PurchaseRecord): OrderLine & Pick<AddonView, 'purchaseId' | 'paymentMethod' | 'createdAt'> {
  return {
    purchaseId: p.purchaseId,
    kind: p.kind,
    bundles: p.bundles,
    minutes: p.minutes,
    amountCents: p.amountCents,
    currency: p.currency,
    paymentMethod: { brand: p.paymentMethod.brand, last4: p.paymentMethod.last4 },
    createdAt: iso(p.createdAt),
  };
}

export function addonFromPurchase(p: PurchaseRecord): AddonView {
  return { ...orderOf(p), endedAt: isoOrNull(p.endedAt), endsAt: isoOrNull(p.endsAt) };
}

export function addonFromCharge(c: ChargeRecord): AddonView {
  return {
    purchaseId: c.purchaseId,
    kind: c.kind,
    bundles: c.bundles,
    minutes: c.minutes,
    amountCents: c.amountCents,
    currency: c.currency,
    paymentMethod: { brand: c.brand, last4: c.last4 },
    createdAt: iso(c.at),
    endedAt: isoOrNull(c.endedAt),
    endsAt: isoOrNull(c.endsAt),
  };
}

/** The account's add-ons at `now`, oldest first: those that recur, and those ended whose
 *  minutes stay until the reset at their endsAt. Add-ons that already left are not shown. */
export function addonList(records: ChargeRecord[], now: number): AddonList {
  const addons: AddonView[] = [];
  const ending: AddonView[] = [];
  const sorted = records.filter((r) => r.kind === 'addon').sort((a, b) => a.at - b.at || a.purchaseId.localeCompare(b.purchaseId));
  for (const r of sorted) {
    if (r.endsAt === undefined) addons.push(addonFromCharge(r));
    else if (now < r.endsAt) ending.push(addonFromCharge(r));
  }
  return { addons, ending };
}
