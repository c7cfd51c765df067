// Prepares inputs for the pool scripts and interprets their return codes. It never
// re-makes a decision the scripts make; it only turns codes into typed results.
import type { Cluster, Redis } from 'ioredis';
import { cycleContaining } from '../domain/cycle.js';
import { CycleHints } from '../domain/cycle.js';
import { accountKeys, billingGlobalKeys, poolScriptKeys, type AccountKeys } from './keys.js';
import type { ScriptName, ScriptReply, ScriptRunner } from './scripts.js';
import { outcome, PROLOGUE_CODES } from './script-codes.js';
import type { PoolSnapshot } from '../domain/pool-snapshot.js';
import { parseSnapshot } from './pool-results.js';
import type { AuthorizeCallInput, AuthorizeCallResult, CallEventInput, CallEventOutcome, CreateAuthorizationInput } from './pool-results.js';
import type { CreateAuthorizationResult, NewPoolAccount, PoolStoreOptions, ReleaseHoldResult } from './pool-results.js';

export type { PoolSnapshot } from '../domain/pool-snapshot.js';
export * from './pool-results.js';

/** The pool prologue's answer, if the script stopped there (lua/lib/prologue.lua). */
function prologueOutcome(reply: ScriptReply): (typeof PROLOGUE_CODES)[keyof typeof PROLOGUE_CODES] | null {
  return PROLOGUE_CODES[Number(reply[0]) as keyof typeof PROLOGUE_CODES] ?? null;
}

/** The request's own fields of an unbound authorization's record, JSON-encoded here where
 *  it is cheap; create-authorization-4.lua splices in what it decides (reserve, expiry). */
function authorizationFields(input: CreateAuthorizationInput): string {
  return JSON.stringify({ s: input.staffId, q: input.requestId, t: input.to });
}

export class PoolStore {
  /** The current cycle is sent along with every script (domain/cycle.ts). */
  private readonly cycles = new CycleHints();

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly scripts: ScriptRunner,
    private readonly opts: PoolStoreOptions,
  ) {}

  keys(accountId: string): AccountKeys {
    return accountKeys(this.opts.prefix, accountId);
  }

  /** Runs a pool script; on CYCLE_DUE computes the cycle from the returned anchor and
   *  runs it once more with it (the first run wrote nothing). Null: no such account. */
  async runPool(
    name: ScriptName,
    accountId: string,
    extraKeys: string[],
    args: (string | number)[],
    now: number,
  ): Promise<ScriptReply | null> {
    const k = this.keys(accountId);
    const keys = [...poolScriptKeys(k), ...extraKeys];
    let reply = await this.scripts.run(name, keys, [now, k.events, this.cycles.hint(accountId, now), ...args]);
    if (prologueOutcome(reply) === 'cycle_due') {
      this.cycles.remember(accountId, Number(reply[1]));
      reply = await this.scripts.run(name, keys, [now, k.events, this.cycles.hint(accountId, now), ...args]);
    }
    const early = prologueOutcome(reply);
    if (early === 'no_account') return null;
    if (early === 'cycle_due') throw new Error(`cycle reset for ${accountId} could not be applied`);
    return reply;
  }

  async createAccount(
    input: NewPoolAccount,
    now: number,
  ): Promise<PoolSnapshot | null> {
    const k = this.keys(input.accountId);
    const c = cycleContaining(input.anchor, now);
    // The reset scheduler (jobs/cycle-scheduler.ts) must know the account before it
    // exists: written after the script, a crash in between would leave it unscheduled.
    // NX keeps an existing account's entry; a stray one for an account never created is
    // dropped by the scheduler.
    await this.redis.zadd(billingGlobalKeys(this.opts.prefix).cycleDue, 'NX', c.end, input.accountId);
    const reply = await this.scripts.run(
      'create-account',
      [...poolScriptKeys(k), k.profile, k.staff, k.numbers],
      [now, k.events, `${c.index}:${c.start}:${c.end}`, input.accountId, input.monthlyMinutes, input.anchor,
        input.inboundWhenExhausted, input.name, input.staff.length,
        ...input.staff.flatMap((s) => [s.id, s.json]), ...input.phoneNumbers],
    );
    if (outcome('create-account', reply) !== 'created') return null;
    this.cycles.remember(input.accountId, input.anchor);
    return parseSnapshot(String(reply[1]));
  }

  /** Null: no such account. */
  async readPool(accountId: string, now: number): Promise<PoolSnapshot | null> {
    const reply = await this.runPool('read-pool', accountId, [], [], now);
    return reply && parseSnapshot(String(reply[1]));
  }

  async adjust(
    accountId: string,
    minutes: number,
    reason: string,
    ref: string,
    now: number,
    /** The write's journal seq (R19): applied once, a repeat answers the pool as it is. */
    writeSeq: number | '' = '',
  ): Promise<{ ok: true; snapshot: PoolSnapshot } | { ok: false; balance: number } | null> {
    const reply = await this.runPool('adjust', accountId, [], [minutes, reason, ref, writeSeq], now);
    if (!reply) return null;
    if (outcome('adjust', reply) === 'insufficient_balance') return { ok: false, balance: Number(reply[1]) };
    return { ok: true, snapshot: parseSnapshot(String(reply[1])) };
  }

  async authorizeCall(
    input: AuthorizeCallInput,
    now: number,
  ): Promise<AuthorizeCallResult | null> {
    const k = this.keys(input.accountId);
    const reply = await this.runPool(
      'authorize-call',
      input.accountId,
      [k.call(input.callSid), k.activeCalls, k.checks],
      [input.callSid, input.direction, input.from, input.to, input.staffId, input.reserveMinutes,
        input.authorizationId, input.expectedLegs, this.opts.deniedMemoryMs, input.policy ?? '',
        input.check.member, input.check.dueAt, input.destination ?? ''],
      now,
    );
    if (!reply) return null;
    const o = outcome('authorize-call', reply);
    if (o === 'denied') {
      return { decision: 'denied', reason: reply[1] === 'destination_not_allowed' ? 'destination_not_allowed' : 'no_minutes' };
    }
    // The new snapshot reaches clients through the bus; the webhook needs only the decision.
    return { decision: 'allowed', reservedMinutes: Number(reply[1]), via: o, indexAt: Number(reply[2] ?? 0) };
  }

  async createAuthorization(
    input: CreateAuthorizationInput,
    now: number,
  ): Promise<CreateAuthorizationResult | null> {
    const reply = await this.runPool(
      'create-authorization',
      input.accountId,
      [],
      [input.authorizationId, input.staffId, input.requestId, input.to, input.reserveMinutes, input.ttlMs,
        input.maxOpenPerStaff ?? '', input.emergency ? 'emergency' : '', authorizationFields(input)],
      now,
    );
    if (!reply) return null;
    const o = outcome('create-authorization', reply);
    if (o === 'denied') {
      return { decision: 'denied', reason: reply[1] === 'too_many_open_authorizations' ? 'too_many_open_authorizations' : 'no_minutes' };
    }
    return {
      decision: 'authorized',
      authorizationId: String(reply[1]),
      expiresAt: Number(reply[2]),
      repeat: o === 'repeat',
    };
  }

  async cancelAuthorization(
    accountId: string,
    authorizationId: string,
    staffId: string,
    now: number,
  ): Promise<PoolSnapshot | null> {
    const reply = await this.runPool('cancel-authorization', accountId, [], [authorizationId, staffId], now);
    return reply && outcome('cancel-authorization', reply) === 'released' ? parseSnapshot(String(reply[1])) : null;
  }

  async recordCallEvent(accountId: string, e: CallEventInput, now: number): Promise<CallEventOutcome> {
    const k = this.keys(accountId);
    const reply = await this.runPool(
      'record-call-event',
      accountId,
      [k.call(e.callSid), k.activeCalls, k.endedCalls, k.checks],
      [e.callSid, e.kind, e.legSid, e.sequenceNumber ?? '', e.status, e.seconds ?? '', e.minutes ?? '',
        '', e.dialCallSid ?? '', e.eventAt ?? '', this.opts.finalGraceMs,
        e.checkMember ?? e.callSid, e.answeredBy ?? ''],
      now,
    );
    // The call cannot be in an account that does not exist.
    if (!reply) return { outcome: 'unknown_call' };
    const o = outcome('record-call-event', reply);
    if (o === 'finalized') {
      this.opts.onSettled?.(Number(reply[3]));
      return {
        outcome: 'finalized',
        billedMinutes: Number(reply[1]),
        billableSeconds: Number(reply[2]),
        debitedMinutes: Number(reply[3]),
        overageMinutes: Number(reply[4]),
        wasUnsettled: reply[5] === 1,
        cycleStart: Number(reply[6]),
      };
    }
    if (o === 'pending' || o === 'unexpected_status') return { outcome: o, indexAt: Number(reply[1] ?? 0) };
    return { outcome: o };
  }

  /** What reconciliation needs to know of a call (null when there is no such call). */
  async callState(
    accountId: string,
    callSid: string,
  ): Promise<{
    state: string;
    createdAt: number;
    expectedLegs: number;
    parentEnded: boolean;
    /** What it was billed, once "ended" (the audit compares it with Twilio's record). */
    billedMinutes: number | null;
    emergency: boolean;
  } | null> {
    const [state, createdAt, expectedLegs, parentTerminal, billedMinutes, emergency] = await this.redis.hmget(
      this.keys(accountId).call(callSid),
      'state',
      'createdAt',
      'expectedLegs',
      'parentTerminal',
      'billedMinutes',
      'emergency',
    );
    if (!state) return null;
    return {
      state,
      createdAt: Number(createdAt ?? 0),
      expectedLegs: Number(expectedLegs ?? 0),
      parentEnded: parentTerminal === '1',
      billedMinutes: billedMinutes === null ? null : Number(billedMinutes),
      emergency: emergency === 'true',
    };
  }

  /** R20: writes a call Twilio completed that this account does not hold, unsettled (no
   *  hold), for record-call-event to settle from Twilio's record (adopt-call-5.lua).
   *  'exists': the call is here already (nothing written); null: no such account. */
  async adoptCall(
    accountId: string,
    call: { callSid: string; direction: 'outbound' | 'inbound'; from: string; to: string; staffId: string; legs: number; startedAt: number; emergency: boolean },
    now: number,
  ): Promise<'adopted' | 'exists' | null> {
    const reply = await this.runPool('adopt-call', accountId, [this.keys(accountId).call(call.callSid)], [
      call.callSid,
      call.direction,
      call.from,
      call.to,
      call.staffId,
      call.legs,
      call.startedAt,
      call.emergency ? 'true' : '',
    ], now);
    return reply && outcome('adopt-call', reply);
  }

  /** R15's safety net: releases the hold of a call open longer than any call can last. */
  async releaseHold(accountId: string, callSid: string, maxHoldMs: number, now: number): Promise<ReleaseHoldResult> {
    const k = this.keys(accountId);
    const reply = await this.runPool('release-hold', accountId, [k.call(callSid), k.activeCalls, k.endedCalls], [callSid, maxHoldMs], now);
    if (!reply) return { outcome: 'unknown_call' };
    const o = outcome('release-hold', reply);
    switch (o) {
      case 'released':
        return { outcome: o, releasedMinutes: Number(reply[1]) };
      case 'not_open':
        return { outcome: o, state: String(reply[1]) };
      case 'not_yet':
        return { outcome: o, dueAt: Number(reply[1]) };
      case 'unknown_call':
        return { outcome: o };
    }
  }

  /** Releases a staff member's open authorizations unless a socket of theirs is open on
   *  some instance (release-staff-authorizations-5.lua). Null when one still is, or when
   *  there is no such account. */
  async releaseStaffAuthorizations(accountId: string, staffId: string, wallNow: number, now: number): Promise<number | null> {
    const k = this.keys(accountId);
    const reply = await this.runPool('release-staff-authorizations', accountId, [k.presence(staffId)], [staffId, wallNow], now);
    if (!reply) return null;
    return outcome('release-staff-authorizations', reply) === 'released' ? Number(reply[1]) : null;
  }

  /** Removes a staff member (remove-staff-6.lua): null when there is no such member. */
  async removeStaff(accountId: string, staffId: string, now: number): Promise<{ memberJson: string; released: number } | null> {
    const k = this.keys(accountId);
    const reply = await this.runPool('remove-staff', accountId, [k.staff, k.tokenGen], [staffId], now);
    return reply && outcome('remove-staff', reply) === 'removed' ? { memberJson: String(reply[1]), released: Number(reply[2]) } : null;
  }

  /** Moves a staff member's token generation on (revoke-staff-tokens-2.lua); false when
   *  there is no such member. */
  async revokeStaffTokens(accountId: string, staffId: string, writeSeq: number | '' = ''): Promise<boolean> {
    const k = this.keys(accountId);
    const reply = await this.scripts.run('revoke-staff-tokens', [k.staff, k.tokenGen], [Date.now(), writeSeq, '', staffId]);
    return outcome('revoke-staff-tokens', reply) !== 'not_found';
  }

  /** A Media Stream of a call started or stopped (media-stream-2.lua). */
  async recordMediaStream(
    accountId: string,
    callSid: string,
    event: 'start' | 'stop',
    streamSid: string,
    customParameters: Record<string, string>,
    now: number,
    /** The socket the stream arrived on: one open stream per call (R18). */
    connectionId = '',
  ): Promise<'recorded' | 'repeated' | 'unknown_call' | 'busy'> {
    const k = this.keys(accountId);
    const reply = await this.scripts.run('media-stream', [k.pool, k.call(callSid)], [
      now,
      k.events,
      '',
      event,
      streamSid,
      JSON.stringify(customParameters),
      connectionId,
    ]);
    return outcome('media-stream', reply);
  }
}
