// R2 for softphones: a staff member asks, over the socket, to place a call; the pool is
// checked and a minute reserved under an authorizationId that /twilio/voice later binds to
// the real call (calls.ts). The same rule as the voice path — one check-and-reserve script
// family — with the softphone's own limits: the dialling policy (R17) and the per-staff
// cap on open authorizations. Expected outcomes are values, never exceptions.
import { randomUUID } from 'node:crypto';
import { indexSafeRequestId, isAuthorizationId, newAuthorizationId } from '../domain/ids.js';
import type { PoolSnapshot, PoolStore } from '../redis/pool-store.js';
import { classifyDestination, DEFAULT_DIAL_POLICY, type DialPolicy } from './dial-policy.js';

export interface SoftphoneAuthorizationOptions {
  reserveMinutes: number;
  authorizationTtlMs: number;
  dialPolicy?: DialPolicy;
  /** Open authorizations per staff member (none: no cap). */
  maxOpenPerStaff?: number;
}

export type AuthorizeOutcome =
  | { outcome: 'authorized'; authorizationId: string; expiresAt: number; repeat: boolean }
  | { outcome: 'denied'; reason: 'no_minutes' | 'too_many_open_authorizations' | 'destination_not_allowed' }
  | { outcome: 'no_account' };

export class SoftphoneAuthorizations {
  constructor(
    private readonly store: PoolStore,
    private readonly opts: SoftphoneAuthorizationOptions,
    private readonly clock: () => number,
  ) {}

  /** Check and reserve for `to`; the same requestId gets the same authorization while open. */
  async authorize(staff: { accountId: string; staffId: string }, requestId: string | number, to: string): Promise<AuthorizeOutcome> {
    // R17: a refused destination is denied before anything is reserved; an emergency
    // number is authorized without reserving.
    const destination = classifyDestination(this.opts.dialPolicy ?? DEFAULT_DIAL_POLICY, to);
    if (destination === 'denied') return { outcome: 'denied', reason: 'destination_not_allowed' };
    const r = await this.store.createAuthorization(
      {
        accountId: staff.accountId,
        authorizationId: newAuthorizationId(randomUUID()),
        staffId: staff.staffId,
        requestId: indexSafeRequestId(String(requestId)),
        to,
        reserveMinutes: this.opts.reserveMinutes,
        ttlMs: this.opts.authorizationTtlMs,
        maxOpenPerStaff: this.opts.maxOpenPerStaff,
        emergency: destination === 'emergency',
      },
      this.clock(),
    );
    if (!r) return { outcome: 'no_account' };
    if (r.decision === 'denied') return { outcome: 'denied', reason: r.reason };
    return { outcome: 'authorized', authorizationId: r.authorizationId, expiresAt: r.expiresAt, repeat: r.repeat };
  }

  /** Releases an open authorization of this staff member; false when there is none such
   *  (unknown, expired, bound, someone else's, or not an id the gateway issues). */
  async cancel(staff: { accountId: string; staffId: string }, authorizationId: string): Promise<boolean> {
    // An id the gateway never issued names nothing: it is not looked up at all.
    if (!isAuthorizationId(authorizationId)) return false;
    return (await this.store.cancelAuthorization(staff.accountId, authorizationId, staff.staffId, this.clock())) !== null;
  }

  /** Issue #8: releases a staff member's open authorizations unless a socket of theirs is
   *  open on some instance (a live presence lease; `wallNow` is wall-clock, as leases are).
   *  Returns how many were released, or null when one is still present or the account is gone. */
  async releaseIfGone(staff: { accountId: string; staffId: string }, wallNow: number): Promise<number | null> {
    return this.store.releaseStaffAuthorizations(staff.accountId, staff.staffId, wallNow, this.clock());
  }

  /** The account's snapshot, after what is due (a reset, expired authorizations) was
   *  applied — which is also how lapsed authorizations are released on time. Null: no
   *  such account. */
  async snapshot(accountId: string): Promise<PoolSnapshot | null> {
    return this.store.readPool(accountId, this.clock());
  }
}
