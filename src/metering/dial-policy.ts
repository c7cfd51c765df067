// R17 dialling policy: what a softphone's `To` names and whether it may be dialled.
// Emergency numbers always connect (and are never metered); premium-rate prefixes are
// refused. One pure function decides it for both paths — the socket's `authorize` and
// /twilio/voice — so they cannot disagree (issue #16), and the destination it normalizes
// is what an authorization is issued for and later bound to (R21).
import type { DialTarget } from '../domain/dial-target.js';
import { isE164, isIdentity } from '../domain/ids.js';

export interface DialPolicy {
  /** Bare digits ("911"). */
  emergencyNumbers: string[];
  /** E.164 prefixes ("+1900"). */
  denyPrefixes: string[];
}

/** What a `To` names. `destination` is its one normalized spelling ("911", "+14155550100",
 *  "client:bob"): an authorization binds only a call whose destination is the same. */
export type Destination =
  | { kind: 'emergency'; destination: string; target: DialTarget }
  | { kind: 'denied'; destination: string }
  | { kind: 'number'; destination: string; target: DialTarget }
  | { kind: 'client'; destination: string; target: DialTarget }
  | { kind: 'invalid' };

/** What people and dialers write between a number's digits ("(911)", "+1 415-555.0100"). */
const SEPARATORS = /[\s.()-]/g;

export function decideDestination(policy: DialPolicy, to: string): Destination {
  // "client:" names a softphone even when the rest looks like a number.
  if (to.startsWith('client:')) return softphone(to.slice(7));
  const compact = to.replace(SEPARATORS, '');
  if (/^\+?\d+$/.test(compact)) {
    // Emergency first: "+112" is also shaped like an E.164 number. A leading + is dropped
    // when dialled: "+911" would be a country code.
    const digits = compact.startsWith('+') ? compact.slice(1) : compact;
    if (policy.emergencyNumbers.includes(digits)) {
      return { kind: 'emergency', destination: digits, target: { kind: 'number', value: digits } };
    }
    if (isE164(compact)) {
      if (policy.denyPrefixes.some((p) => compact.startsWith(p))) return { kind: 'denied', destination: compact };
      return { kind: 'number', destination: compact, target: { kind: 'number', value: compact } };
    }
  }
  // A bare identity ("bob") is a softphone too, as the Voice SDK passes it.
  return softphone(to);
}

function softphone(identity: string): Destination {
  if (!isIdentity(identity)) return { kind: 'invalid' };
  return { kind: 'client', destination: `client:${identity}`, target: { kind: 'client', value: identity } };
}

/** Issue #16: a softphone rings only its own account's softphones. An identity no account
 *  holds (never claimed, or released) cannot be rung either; both are refused alike, so a
 *  caller cannot tell another business's identities from unused ones. */
export function mayRing(callerAccountId: string, owner: { accountId: string } | null): boolean {
  return owner !== null && owner.accountId === callerAccountId;
}
