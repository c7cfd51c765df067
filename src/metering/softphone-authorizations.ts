// R2 for softphones: a staff member asks, over the socket, to place a call; the pool is
// checked and a minute reserved under an authorizationId that /twilio/voice later binds to
// the real call (calls.ts). The same rule as the voice path — one check-and-reserve script
// family — with the softphone's own limits: the dialling policy (R17) and the per-staff
// cap on open authorizations. Expected outcomes are values, never exceptions.
import { randomUUID } from 'node:crypto';
import { indexSafeRequestId, isAuthorizationId, newAuthorizationId } from '../domain/ids.js';
import type { PoolSnapshot, PoolStore } from '../redis/pool-store.js';
import type { Dialling } from './dialling.js';

export interface SoftphoneAuthorizationOptions {
  reserveMinutes: number;
  authorizationTtlMs: number;
  /** Open authorizations per staff member, emergency ones included (none: no cap). */
  maxOpenPerStaff?: number;
}

export type AuthorizeOutcome =
  | { outcome: 'authorized'; authorizationId: string; expiresAt: number; repeat: boolean }
  | { outcome: 'denied'; reason: 'no_minutes' | 'too_many_open_authorizations' | 'destination_not_allowed' }
  | { outcome: 'no_account' }
  /** `to` names no destination at all (the voice path's no_destination). */
  | { outcome: 'invalid' };

export class SoftphoneAuthorizations {
  constructor(
    private readonly store: PoolStore,
    /** R17 and issue #16: the same decision /twilio/voice makes (calls.ts). */
    private readonly dialling: Dialling,
    private readonly opts: SoftphoneAuthorizationOptions,
    private readonly clock: () => number,
  ) {}

  /** Check and reserve for `to`; the same requestId gets the same authorization while open. */
  async authorize(staff: { accountId: string; staffId: string }, requestId: string | number, to: string): Promise<AuthorizeOutcome> {
    // R17: a refused destination (a premium-rate prefix, another account's softphone) is
    // denied before anything is reserved; an emergency number is authorized without
    // reserving. The authorization binds only a call to the normalized destination (R21).
    const d = await this.dialling.decide(staff.accountId, to);
    if (d.kind === 'invalid') return { outcome: 'invalid' };
    if (d.kind === 'denied') return { outcome: 'denied', reason: 'destination_not_allowed' };
    const r = await this.store.createAuthorization(
      {
        accountId: staff.accountId,
        authorizationId: newAuthorizationId(randomUUID()),
        staffId: staff.staffId,
        requestId: indexSafeRequestId(String(requestId)),
        to: d.destination,
        reserveMinutes: this.opts.reserveMinutes,
        ttlMs: this.opts.authorizationTtlMs,
        maxOpenPerStaff: this.opts.maxOpenPerStaff,
        emergency: d.kind === 'emergency',
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
