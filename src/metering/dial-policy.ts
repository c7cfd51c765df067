// R17 dialling policy: which destinations a softphone may dial. Emergency numbers always
// connect (and are never metered); premium-rate prefixes are refused. The decision is a
// pure function of the settings, so the webhook and the socket always agree.
import { DEFAULT_DIAL_DENY_PREFIXES, DEFAULT_EMERGENCY_NUMBERS } from '../config.js';
import { isE164 } from '../domain/ids.js';

export interface DialPolicy {
  /** Bare digits ("911"). */
  emergencyNumbers: string[];
  /** E.164 prefixes ("+1900"). */
  denyPrefixes: string[];
}

export type DestinationClass = 'emergency' | 'denied' | 'ordinary';

export const DEFAULT_DIAL_POLICY: DialPolicy = {
  emergencyNumbers: DEFAULT_EMERGENCY_NUMBERS.split(','),
  denyPrefixes: DEFAULT_DIAL_DENY_PREFIXES.split(','),
};

/** The emergency number a `To` names ("911" or "+911"), as bare digits, or null. */
export function emergencyNumber(policy: DialPolicy, to: string): string | null {
  const digits = to.startsWith('+') ? to.slice(1) : to;
  return /^\d+$/.test(digits) && policy.emergencyNumbers.includes(digits) ? digits : null;
}

export function classifyDestination(policy: DialPolicy, to: string): DestinationClass {
  // Emergency first: "+112" is also shaped like an E.164 number.
  if (emergencyNumber(policy, to) !== null) return 'emergency';
  if (isE164(to) && policy.denyPrefixes.some((p) => to.startsWith(p))) return 'denied';
  return 'ordinary';
}
