// R4: the one function that turns answered talk time into billed minutes. Lua never
// re-derives it: callers compute minutes here and pass them to the scripts.

export interface BillingRules {
  /** Calls of at most this many seconds cost nothing (R4: 30). */
  minBillableSeconds: number;
  /** Minutes are charged per started increment of this many seconds (R4: 60). */
  billingIncrementSeconds: number;
}

export const DEFAULT_BILLING_RULES: BillingRules = Object.freeze({
  minBillableSeconds: 30,
  billingIncrementSeconds: 60,
});

/**
 * Whole minutes billed for `seconds` of answered talk time: 0 up to and including the
 * minimum, then rounded up per increment (0→0, 30→0, 31→1, 60→1, 61→2, 3600→60).
 * Throws RangeError on anything that is not a non-negative whole number of seconds.
 */
export function billableMinutes(seconds: number, rules: BillingRules = DEFAULT_BILLING_RULES): number {
  if (typeof seconds !== 'number' || !Number.isSafeInteger(seconds) || seconds < 0) {
    throw new RangeError(`billable seconds must be a non-negative whole number, got ${String(seconds)}`);
  }
  if (seconds <= rules.minBillableSeconds) return 0;
  return Math.ceil(seconds / rules.billingIncrementSeconds);
}

/**
 * Parses a duration field as Twilio sends it (a decimal string of whole seconds).
 * Returns null for absent or malformed values so callers can reject the request.
 */
export function parseSeconds(raw: string | undefined | null): number | null {
  if (raw === undefined || raw === null || raw === '') return null;
  if (!/^\d{1,9}$/.test(raw)) return null;
  return Number(raw);
}
