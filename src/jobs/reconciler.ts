// R15: a call whose final signal never arrives is settled from Twilio's own records, and
// nothing is ever held for ever. Calls and video participants get a check in their
// account's queue when they are placed (due after a long while) and when their parent ends
// before a dialled leg reported (due after the final grace); a call that becomes final
// drops its check. Every instance polls the global index of accounts with checks due
// (redis/reconcile-queue.ts); accounts and checks are leased, so each check runs once and
// an instance that dies mid-pass loses nothing.
//
// A check, in order:
//   1. Twilio's record (REST) when it is configured: settled only when the record is
//      complete — a completed leg carries its duration, a call that dialled lists its legs
//      (an empty list is "not yet"); it is fed in as ordinary signals through the same
//      exactly-once script as live ones. Without REST, a parent that ended is settled on
//      the legs that reported once the final grace has passed.
//   2. Still open MAX_CALL_HOLD_SECONDS after it was placed: the hold is released without
//      a debit and the call marked unsettled (release-hold-7.lua); its truth, when it comes,
//      is still debited once.
//   3. Otherwise checked again, with a back-off that grows with the call's age.
import { billableMinutes, type BillingRules } from '../domain/billable-minutes.js';
import type { Logger } from '../log.js';
import { PeriodicJob } from './periodic.js';
import type { CallEventInput, CallEventOutcome, PoolStore } from '../redis/pool-store.js';
import type { TwilioCall, TwilioParticipant } from '../twilio/rest-client.js';
import { checkMember, parseReconcileMember, type ReconcileQueue } from '../redis/reconcile-queue.js';

const TERMINAL = new Set(['completed', 'busy', 'failed', 'no-answer', 'canceled']);
/** Past this age an unsettled call is no longer looked up (Twilio keeps no call this long open). */
const GIVE_UP_AFTER_MS = 7 * 86400_000;
const MAX_BACKOFF_MS = 3600_000;
/** Most accounts, and most checks of one account, taken in one pass. */
const BATCH = 50;
/** An instance's hold on what it took: longer than a pass's checks can take (REST look-ups
 *  time out well before). */
const LEASE_MS = 120_000;
/** How often each instance re-indexes every account from its own queue (the repair sweep,
 *  for an index write that failed on an instance that then died); also at start-up. */
const REPAIR_EVERY_MS = 3600_000;

/** Twilio's records, as reconciliation reads them (twilio/rest-client.ts; tests: a local fake). */
export interface TwilioRecords {
  fetchCall(callSid: string): Promise<TwilioCall>;
  dialledLegs(parentCallSid: string): Promise<TwilioCall[]>;
  fetchParticipant(roomSid: string, participantSid: string): Promise<TwilioParticipant>;
}

export interface ReconcilerOptions {
  billing: BillingRules;
  pollMs: number;
  /** A call still running at Twilio is looked at again after this long. */
  recheckMs: number;
  /** Back-off after a failed or incomplete look-up (it grows with the call's age). */
  retryMs: number;
  /** The safety net: the hold of a call open this long after it was placed is released. */
  maxHoldMs: number;
}

export type ReconcileOutcome = 'settled' | 'already_final' | 'still_running' | 'incomplete' | 'unavailable' | 'unknown';

export class Reconciler {
  private readonly job: PeriodicJob;
  private last: Promise<void> = Promise.resolve();
  /** Unsettled calls in the whole deployment, as of the last poll (for /metrics). */
  unsettledCalls = 0;
  /** Entries that were due at the last poll (for /metrics). */
  backlog = 0;
  /** Index writes that failed on this instance and wait for the next pass (for /metrics). */
  get unindexed(): number {
    return this.queue.unindexedCount;
  }
  /** The repair sweep: where it is, and when the next one starts. */
  private repairCursor = '0';
  private repairAt = 0;

  constructor(
    private readonly queue: ReconcileQueue,
    private readonly store: PoolStore,
    private readonly rest: TwilioRecords | null,
    private readonly opts: ReconcilerOptions,
    private readonly clock: () => number,
    private readonly log: Logger,
  ) {
    this.job = new PeriodicJob('reconciler', opts.pollMs, () => this.tick(), log);
  }

  start(): void {
    this.job.start();
  }

  async stop(): Promise<void> {
    await this.job.stop();
  }

  /** One pass over what is due. Passes never overlap: a pass asked for while one runs
   *  (a test's, or the periodic job's) runs right after it. */
  tick(): Promise<void> {
    const pass = this.last.then(() => this.pass());
    this.last = pass;
    return pass;
  }

  private async pass(): Promise<void> {
    try {
      await this.queue.retryUnindexed();
      await this.repairStep();
      this.backlog = await this.queue.backlog(this.clock());
      // What versions before the per-account checks queued globally: checked, and what is
      // still to check moves into the account's own queue.
      for (const member of await this.queue.claimLegacy(this.clock(), BATCH)) {
        const { accountId, sid, roomSid } = parseReconcileMember(member);
        const next = await this.checkOrRetry(member);
        if (next !== null) await this.queue.schedule(accountId, checkMember(sid, roomSid), next, true);
      }
      for (const claimed of await this.queue.claimAccounts(this.clock(), LEASE_MS, BATCH)) {
        const { accountId } = claimed;
        const { members } = await this.queue.claimChecks(accountId, this.clock(), LEASE_MS, BATCH);
        for (const m of members) {
          const next = await this.checkOrRetry(`${accountId} ${m}`);
          if (next === null) await this.queue.drop(accountId, m);
          else await this.queue.schedule(accountId, m, next, true);
        }
        // The account's next due time, now that what was taken is re-timed or gone.
        const { next } = await this.queue.claimChecks(accountId, this.clock(), LEASE_MS, 0);
        await this.queue.release(claimed, next);
      }
      this.unsettledCalls = await this.queue.countUnsettled();
    } catch (err) {
      this.log.warn('reconciliation poll failed', { err });
    }
  }

  /** One page of the repair sweep while one is due or under way. */
  private async repairStep(): Promise<void> {
    const now = this.clock();
    if (this.repairCursor === '0' && now < this.repairAt) return;
    this.repairCursor = await this.queue.reindexPage(this.repairCursor, now);
    if (this.repairCursor === '0') this.repairAt = now + REPAIR_EVERY_MS;
  }

  /** A check; when it fails, when to try again. */
  private checkOrRetry(member: string): Promise<number | null> {
    return this.check(member).catch((err: unknown) => {
      this.log.warn('reconciliation check failed', { err, member });
      return this.clock() + this.opts.retryMs;
    });
  }

  /** One due entry; returns when to look again, or null when the call needs no more. */
  private async check(member: string): Promise<number | null> {
    const { accountId, sid, roomSid } = parseReconcileMember(member);
    const call = await this.store.callState(accountId, sid);
    if (!call || call.state === 'denied' || call.state === 'ended') return null;

    let outcome: ReconcileOutcome;
    if (this.rest) {
      // The call's state was just read: straight to Twilio's record (reconcile() reads it again).
      const fromTwilio = roomSid ? this.reconcileParticipant(accountId, sid, roomSid) : this.reconcileCall(accountId, sid, call.expectedLegs);
      outcome = await fromTwilio.catch((err: unknown) => {
        this.log.warn('Twilio REST look-up failed; will retry', { err, callSid: sid });
        return 'unavailable' as const;
      });
    } else {
      outcome = call.parentEnded ? await this.settleAfterGrace(accountId, sid) : 'unavailable';
    }
    if (outcome === 'settled' || outcome === 'already_final' || outcome === 'unknown') return null;

    const now = this.clock();
    const age = now - call.createdAt;
    let next = now + (outcome === 'still_running' ? this.opts.recheckMs : Math.min(MAX_BACKOFF_MS, Math.max(this.opts.retryMs, age / 8)));
    let unsettled = call.state === 'unsettled';
    if (call.state === 'active') {
      const r = await this.store.releaseHold(accountId, sid, this.opts.maxHoldMs, now);
      if (r.outcome === 'released') {
        unsettled = true;
        await this.queue.markUnsettled(accountId, sid, now);
        this.log.warn('hold released: call open longer than any call can last; marked unsettled', {
          callSid: sid,
          accountId,
          releasedMinutes: r.releasedMinutes,
        });
      } else if (r.outcome === 'not_yet') {
        next = Math.min(next, r.dueAt);
      }
    }
    // Without REST an unsettled call can only be settled by a late signal of its own.
    if (unsettled && (!this.rest || age > GIVE_UP_AFTER_MS)) return null;
    return next;
  }

  /** No REST: a parent that ended is settled on the legs that reported, once the final
   *  grace has passed (the script checks the grace). */
  private async settleAfterGrace(accountId: string, callSid: string): Promise<ReconcileOutcome> {
    const r = await this.feed(accountId, { callSid, kind: 'grace', legSid: callSid, sequenceNumber: null, status: '', seconds: null, minutes: null, dialCallSid: null });
    return r.outcome === 'finalized' ? 'settled' : r.outcome === 'late' ? 'already_final' : 'incomplete';
  }

  /** Settles a call (or, with roomSid, a video participant) from Twilio's record. */
  async reconcile(accountId: string, callSid: string, roomSid?: string): Promise<ReconcileOutcome> {
    const call = await this.store.callState(accountId, callSid);
    if (!call || call.state === 'denied') return 'unknown';
    if (call.state === 'ended') return 'already_final';
    if (!this.rest) {
      this.log.warn('a call needs reconciliation but the Twilio REST settings are missing', { callSid });
      return 'unavailable';
    }
    return roomSid ? this.reconcileParticipant(accountId, callSid, roomSid) : this.reconcileCall(accountId, callSid, call.expectedLegs);
  }

  private async reconcileParticipant(accountId: string, participantSid: string, roomSid: string): Promise<ReconcileOutcome> {
    const p = await this.rest!.fetchParticipant(roomSid, participantSid);
    if (p.status === 'connected') return 'still_running';
    if (p.status !== 'disconnected' || p.duration === null) return 'incomplete';
    const e = this.event(participantSid, 'parent', participantSid, 'completed', p.duration, p.endTime);
    const r = await this.feed(accountId, { ...e, checkMember: checkMember(participantSid, roomSid) });
    this.log.info('video participant reconciled from Twilio', { participantSid, seconds: p.duration, outcome: r.outcome });
    return settledBy([r]);
  }

  private async reconcileCall(accountId: string, callSid: string, expectedLegs: number): Promise<ReconcileOutcome> {
    const rest = this.rest!;
    const parent = await rest.fetchCall(callSid);
    if (!TERMINAL.has(parent.status)) return 'still_running';
    return this.settleFromRecord(accountId, parent, expectedLegs === 0 ? [] : await rest.dialledLegs(callSid), expectedLegs);
  }

  /** Settles a call from Twilio's record of it — the parent and the legs it dialled — fed
   *  in as ordinary signals (also the audit's way, R20, with the record it listed). */
  async settleFromRecord(accountId: string, parent: TwilioCall, legs: TwilioCall[], expectedLegs: number): Promise<ReconcileOutcome> {
    const callSid = parent.sid;
    if (!TERMINAL.has(parent.status)) return 'still_running';
    if (expectedLegs === 0) {
      // No <Dial>: the call's own duration is its talk time (R4).
      if (parent.status === 'completed' && parent.duration === null) return 'incomplete';
      return settledBy([await this.feed(accountId, this.event(callSid, 'parent', callSid, parent.status, parent.duration ?? 0, parent.endTime))]);
    }
    if (legs.length === 0) {
      // Twilio's lists are eventually consistent: a call that dialled shows its legs later.
      // Only a parent that never connected can have dialled nobody.
      if (parent.status === 'completed') return 'incomplete';
      return settledBy([await this.feed(accountId, this.event(callSid, 'parent', callSid, parent.status, 0, parent.endTime))]);
    }
    if (legs.some((l) => !TERMINAL.has(l.status))) return 'still_running';
    if (legs.some((l) => l.status === 'completed' && l.duration === null)) return 'incomplete';
    // The record is complete: its legs and the parent go in as ordinary signals, and
    // record-call-event decides what is billed (R4: the answered leg's talk time, never the
    // parent's duration for a call that dialled). The longest leg goes in first: a call
    // whose parent already ended settles on the first leg that completes it, and without
    // the <Dial action> the bridged leg is the answered one that talked longest.
    const replies: CallEventOutcome[] = [];
    for (const leg of [...legs].sort((x, y) => (y.duration ?? 0) - (x.duration ?? 0))) {
      replies.push(await this.feed(accountId, this.event(callSid, 'child', leg.sid, leg.status, leg.duration ?? 0, leg.endTime)));
    }
    replies.push(await this.feed(accountId, this.event(callSid, 'parent', callSid, parent.status, parent.duration ?? 0, parent.endTime)));
    replies.push(await this.feed(accountId, { callSid, kind: 'complete', legSid: callSid, sequenceNumber: null, status: '', seconds: null, minutes: null, dialCallSid: null }));
    this.log.info('call reconciled from Twilio', { callSid, legs: legs.length });
    return settledBy(replies);
  }

  private event(callSid: string, kind: 'parent' | 'child' | 'action', legSid: string, status: string, seconds: number, endTime: number | null): CallEventInput {
    return {
      callSid,
      kind,
      legSid,
      sequenceNumber: null,
      status,
      seconds,
      minutes: billableMinutes(seconds, this.opts.billing),
      dialCallSid: null,
      eventAt: endTime,
    };
  }

  private async feed(accountId: string, e: CallEventInput): Promise<CallEventOutcome> {
    const r = await this.store.recordCallEvent(accountId, e, this.clock());
    if (r.outcome === 'finalized' && r.wasUnsettled) await this.queue.clearUnsettled(accountId, e.callSid);
    if (r.outcome === 'pending' || r.outcome === 'unexpected_status') await this.queue.index(accountId, r.indexAt);
    return r;
  }
}

function settledBy(replies: CallEventOutcome[]): ReconcileOutcome {
  if (replies.some((r) => r.outcome === 'finalized')) return 'settled';
  if (replies.some((r) => r.outcome === 'late')) return 'already_final';
  return 'incomplete';
}
