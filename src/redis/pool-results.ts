// What goes into the pool scripts and what they answer, typed: PoolStore's options and
// inputs, the results it turns return codes into, and the snapshot as the scripts encode it.
import type { PoolSnapshot } from '../domain/pool-snapshot.js';

// "No such account" is an answer like any other: the methods say it with null (or, for a
// call's signal, the outcome "unknown_call"; where null means something else already,
// with NO_ACCOUNT), never by throwing.
export const NO_ACCOUNT = 'no_account' as const;
export type NoAccount = typeof NO_ACCOUNT;

export type AuthorizeCallResult =
  | {
      decision: 'allowed';
      reservedMinutes: number;
      via: 'reserved' | 'repeat' | 'authorization';
      /** A due time the global reconciliation index must be given (ReconcileQueue.index), or 0. */
      indexAt: number;
    }
  | { decision: 'denied'; reason: 'no_minutes' | 'destination_not_allowed' };

export type CreateAuthorizationResult =
  | { decision: 'authorized'; authorizationId: string; expiresAt: number; repeat: boolean }
  | { decision: 'denied'; reason: 'no_minutes' | 'too_many_open_authorizations' };

export type CallEventOutcome =
  | {
      outcome: 'finalized';
      billedMinutes: number;
      billableSeconds: number;
      debitedMinutes: number;
      overageMinutes: number;
      /** The call's hold had been released (release-hold): it is no longer unsettled. */
      wasUnsettled: boolean;
      /** Start (ms) of the cycle the minutes were booked in (R16). */
      cycleStart: number;
    }
  | {
      outcome: 'pending' | 'unexpected_status';
      /** A due time the global reconciliation index must be given (ReconcileQueue.index), or 0. */
      indexAt: number;
    }
  | { outcome: 'recorded' | 'duplicate' | 'late' | 'denied_call' | 'unknown_call' };

export type ReleaseHoldResult =
  | { outcome: 'released'; releasedMinutes: number }
  | { outcome: 'not_open'; state: string }
  | { outcome: 'not_yet'; dueAt: number }
  | { outcome: 'unknown_call' };

export interface CallEventInput {
  callSid: string;
  /** Not signals: "grace" — the final grace of a parent that ended before its legs is over;
   *  "complete" — Twilio's record of the call, fed in before, listed every leg. */
  kind: 'parent' | 'child' | 'action' | 'grace' | 'complete';
  legSid: string;
  sequenceNumber: number | null;
  status: string;
  seconds: number | null;
  minutes: number | null;
  dialCallSid: string | null;
  /** When the event fired at Twilio (its Timestamp, ms), if known: the call's end instant
   *  for cycle attribution (R16). */
  eventAt?: number | null;
  /** The call's reconciliation check (lib/checks.lua): "participantSid roomSid" for a video
   *  participant; a call's is its CallSid (the default). */
  checkMember?: string;
  /** The staff member whose dialled <Client> leg this in-progress signal says answered
   *  (an inbound call is theirs from then on: its record, usage by staff), or none. */
  answeredBy?: string | null;
}

export function parseSnapshot(json: string): PoolSnapshot {
  const o = JSON.parse(json) as PoolSnapshot & { t?: string };
  delete o.t;
  if (o.pendingMonthlyMinutes === undefined) o.pendingMonthlyMinutes = null;
  // Snapshots stored in purchase records before plan and add-ons were kept apart.
  if (o.planMinutes === undefined) {
    o.planMinutes = o.monthlyMinutes;
    o.addonMinutes = 0;
  }
  if (o.pendingPlanMinutes === undefined) o.pendingPlanMinutes = null;
  if (o.pendingAddonMinutes === undefined) o.pendingAddonMinutes = null;
  return o;
}

export interface PoolStoreOptions {
  prefix: string;
  /** How long a denied CallSid keeps its answer for repeated webhooks. */
  deniedMemoryMs: number;
  /** A parent that ended before its dialled legs is settled on the legs that reported
   *  once this has passed (record-call-event, kind "grace"). */
  finalGraceMs: number;
  /** Hears the minutes each settled call or participant debited (for /metrics): every
   *  settlement (webhook, video, reconciliation) passes through recordCallEvent. */
  onSettled?: (debitedMinutes: number) => void;
}

export interface NewPoolAccount {
  accountId: string;
  name: string;
  monthlyMinutes: number;
  anchor: number;
  inboundWhenExhausted: 'allow' | 'reject';
  staff: { id: string; json: string }[];
  phoneNumbers: string[];
}

export interface AuthorizeCallInput {
  accountId: string;
  callSid: string;
  direction: 'outbound' | 'inbound' | 'video';
  from: string;
  to: string;
  staffId: string;
  reserveMinutes: number;
  authorizationId: string;
  /** R21 (issue #16): the call's destination as dial-policy.ts normalizes it; the
   *  authorization is bound only if it was issued for the same one, otherwise the call
   *  is decided afresh. None given (inbound, video): no authorization is bound. */
  destination?: string;
  expectedLegs: number;
  /** R17: "emergency" (allowed, reserves nothing, never debited), "deny" (refused
   *  destination) or "" (the usual check). */
  policy?: 'emergency' | 'deny' | '';
  /** R15: the check reconciliation makes should the call's final signal be lost — queued
   *  with the call, in the same script. */
  check: { member: string; dueAt: number };
}

export interface CreateAuthorizationInput {
  accountId: string;
  authorizationId: string;
  staffId: string;
  requestId: string;
  /** The destination as dial-policy.ts normalizes it: the only one the authorization binds (R21). */
  to: string;
  reserveMinutes: number;
  ttlMs: number;
  /** At most this many open authorizations per staff member (none: no cap). */
  maxOpenPerStaff?: number;
  /** R17, R21: an emergency number — authorized without reserving, counted like any other. */
  emergency?: boolean;
}
