// The order "Add More Minutes" builds: its limits (bundles of 100), what the server's
// quote and cards on file look like, and why a typed amount cannot be bought.
import type { components } from '@minutegate/client';
import { minutes as fmtMinutes } from './format.js';

export const MIN_MINUTES = 100;
export const MAX_MINUTES = 10_000;
export const STEP = 100;

// As the gateway's OpenAPI document names them (@minutegate/client's generated types).
export type Quote = components['schemas']['Quote'];
export type Card = components['schemas']['PaymentMethod'];
export type Kind = Quote['kind'];

/** Why a typed amount cannot be bought, or null when it can. */
export function minutesProblem(raw: string): string | null {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < MIN_MINUTES || n > MAX_MINUTES || n % STEP !== 0) {
    return `Minutes come in bundles of ${STEP}: enter a multiple of ${STEP} from ${fmtMinutes(MIN_MINUTES)} to ${fmtMinutes(MAX_MINUTES)}.`;
  }
  return null;
}

export const kindText = (k: Kind) => (k === 'addon' ? 'Monthly add-on (every month until you end it)' : 'One-time minutes (this cycle only)');
