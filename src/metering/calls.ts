// Call metering use cases behind the Twilio webhooks: placing a call (/twilio/voice) and
// every later signal about it (/twilio/status). Redis errors propagate: the webhook
// layer turns them into <Reject> or a 5xx (R14), never into a guess.
import { billableMinutes, parseSeconds, type BillingRules } from '../domain/billable-minutes.js';
import { parseTwilioTimestamp } from '../domain/twilio-time.js';
import { AppError } from '../domain/errors.js';
import { isAccountId, isAuthorizationId, isCallSid, isE164 } from '../domain/ids.js';
import type { CallEventOutcome, PoolStore } from '../redis/pool-store.js';
import type { Accounts } from '../accounts/accounts.js';
import type { Directory } from './directory.js';
import type { RefusedCall } from '../postgres/refusal-store.js';
import type { ReconcileQueue } from '../redis/reconcile-queue.js';
import type { DialTarget } from '../domain/dial-target.js';
import type { Dialling } from './dialling.js';


/** A refused CallSid stays refused this long (issue #8): a replayed, correctly signed
 *  webhook must not get a different answer because the pool changed meanwhile. */
export const DENIED_MEMORY_MS = 24 * 3600_000;

export type VoiceDecision =
  | {
      allow: true;
      accountId: string;
      callSid: string;
      targets: DialTarget[];
      callerId?: string;
    }
  | { allow: false; reason: 'no_minutes' | 'destination_not_allowed' | 'unknown_caller' | 'unknown_number' | 'no_destination' | 'no_staff' };

const TERMINAL = new Set(['completed', 'busy', 'failed', 'no-answer', 'canceled']);
/** Twilio rings at most 10 nouns of one <Dial> in parallel. */
const MAX_PARALLEL_NOUNS = 10;

export interface CallMeteringOptions {
  billing: BillingRules;
  reserveMinutes: number;
  finalGraceMs: number;
  /** Every placed call is checked against Twilio this long after, if still open (R15). */
  reconcileAfterMs: number;
  /** ...and its hold released by then at the latest (R15's safety net). */
  maxHoldMs: number;
  /** Hears each call refused at placement (history/refusal-log.ts). */
  refusals?: { record(call: RefusedCall): void };
}

export class CallMetering {
  constructor(
    private readonly store: PoolStore,
    private readonly accounts: Accounts,
    private readonly directory: Directory,
    /** R17 and issue #16: which destinations a softphone may dial (shared with the socket). */
    private readonly dialling: Dialling,
    private readonly queue: ReconcileQueue,
    private readonly opts: CallMeteringOptions,
    private readonly clock: () => number,
  ) {}

  /** /twilio/voice: find the account, then bind or authorize (R2). */
  async placeCall(p: Record<string, string | undefined>): Promise<VoiceDecision> {
    const callSid = p.CallSid ?? '';
    if (!isCallSid(callSid)) throw new AppError(400, 'VALIDATION_FAILED', 'CallSid: missing or not a Twilio CallSid');
    const from = p.From ?? '';
    const to = p.To ?? '';
    let accountId: string;
    let staffId = '';
    let direction: 'outbound' | 'inbound';
    let targets: DialTarget[];
    let callerId: string | undefined;

    let callerIdFrom: Promise<string[]> | null = null;
    let policy: 'emergency' | 'deny' | '' = '';
    // What an authorization must have been issued for to be bound (R21): none for inbound.
    let destination = '';
    if (from.startsWith('client:')) {
      // A softphone of a staff member (Voice SDK through the TwiML App).
      const who = await this.directory.lookupIdentity(from.slice(7));
      if (!who) return { allow: false, reason: 'unknown_caller' };
      accountId = who.accountId;
      staffId = who.staffId;
      direction = 'outbound';
      // R17, the same decision as the socket's (dialling.ts): an emergency number is
      // dialled as a <Number> even though it is not E.164, and a refused destination is
      // decided (and remembered) by the script like any denial.
      const d = await this.dialling.decide(accountId, to);
      if (d.kind === 'invalid') return { allow: false, reason: 'no_destination' };
      destination = d.destination;
      if (d.kind === 'denied') {
        policy = 'deny';
        targets = [];
      } else {
        if (d.kind === 'emergency') policy = 'emergency';
        targets = [d.target];
        if (d.target.kind === 'number') callerIdFrom = this.accounts.cachedNumbers(accountId);
      }
    } else {
      // A call to one of the account's numbers rings its staff's softphones.
      const owner = isE164(to) ? await this.directory.lookupNumber(to) : null;
      if (!owner) return { allow: false, reason: 'unknown_number' };
      accountId = owner;
      direction = 'inbound';
      const staff = await this.accounts.cachedStaff(accountId);
      targets = staff.slice(0, MAX_PARALLEL_NOUNS).map((s) => ({ kind: 'client', value: s.identity }));
      if (targets.length === 0) return { allow: false, reason: 'no_staff' };
    }

    // The CallSid → account map and the authorization go out together (both in flight); both
    // are written before the TwiML is answered, so before any signal about the call. The
    // authorization queues the call's reconciliation check in the same script (R15).
    const now = this.clock();
    const [, result, numbers] = await Promise.all([
      this.directory.rememberCall(callSid, accountId),
      this.store.authorizeCall(
        {
          accountId,
          callSid,
          direction,
          from,
          to,
          staffId,
          reserveMinutes: this.opts.reserveMinutes,
          // Only an id the gateway issued is looked up; anything else is a fresh check.
          authorizationId: isAuthorizationId(p.authorizationId) ? p.authorizationId : '',
          destination,
          expectedLegs: targets.length,
          policy,
          // Should every signal about the call be lost, Twilio's record settles it (R15).
          check: { member: callSid, dueAt: now + Math.min(this.opts.reconcileAfterMs, this.opts.maxHoldMs) },
        },
        now,
      ),
      callerIdFrom,
    ]);
    if (numbers) {
      const wanted = p.CallerId;
      callerId = wanted && numbers.includes(wanted) ? wanted : numbers[0];
    }
    // The account was removed since it was looked up: as if it had never been found.
    if (!result) return { allow: false, reason: direction === 'outbound' ? 'unknown_caller' : 'unknown_number' };
    if (result.decision === 'denied') {
      // Kept for the history (not connected, and why), off the webhook's path.
      this.opts.refusals?.record({ accountId, callSid, direction, from, to, staffId: staffId || null, reason: result.reason, refusedAt: now });
      return { allow: false, reason: result.reason };
    }
    // Rarely: the account's first open check, or one earlier than any before.
    await this.queue.index(accountId, result.indexAt);
    return { allow: true, accountId, callSid, targets, callerId };
  }

  /** /twilio/status: a leg's status callback or the <Dial action> request (R4, R5).
   *  Twilio never resends a signal, so only a forged or malformed one is refused (4xx):
   *  a missing duration or an undocumented status is recorded and left for another
   *  signal or reconciliation (R14).
   *  `namedAccount`: the account the callback's signed URL names (twilio/callback-url.ts),
   *  taken as is; the script answers unknown_call when the call is not that account's.
   *  Undefined (the TwiML App's Status Callback, a call placed before the URLs named it):
   *  the CallSid → account map says. */
  async recordSignal(p: Record<string, string | undefined>, namedAccount?: string): Promise<CallEventOutcome & { accountId?: string }> {
    const sid = p.CallSid ?? '';
    if (!isCallSid(sid)) throw new AppError(400, 'VALIDATION_FAILED', 'CallSid: missing or not a Twilio CallSid');
    let kind: 'parent' | 'child' | 'action';
    let callSid = sid;
    let status: string;
    let rawSeconds: string | undefined;
    let durationField: string;
    if (p.DialCallStatus !== undefined) {
      kind = 'action';
      status = p.DialCallStatus;
      rawSeconds = p.DialCallDuration;
      durationField = 'DialCallDuration';
    } else {
      status = p.CallStatus ?? '';
      if (p.ParentCallSid) {
        if (!isCallSid(p.ParentCallSid)) throw new AppError(400, 'VALIDATION_FAILED', 'ParentCallSid: not a Twilio CallSid');
        kind = 'child';
        callSid = p.ParentCallSid;
      } else {
        kind = 'parent';
      }
      rawSeconds = TERMINAL.has(status) ? p.CallDuration : undefined;
      durationField = 'CallDuration';
    }
    if (status === '' || status.length > 32) {
      throw new AppError(400, 'VALIDATION_FAILED', `${kind === 'action' ? 'DialCallStatus' : 'CallStatus'}: missing or malformed`);
    }
    const seconds = parseSeconds(rawSeconds);
    if (rawSeconds !== undefined && rawSeconds !== '' && seconds === null) {
      throw new AppError(400, 'VALIDATION_FAILED', `${durationField}: not a whole number of seconds`);
    }
    const seqRaw = p.SequenceNumber;
    let sequenceNumber: number | null = null;
    if (seqRaw !== undefined && seqRaw !== '') {
      if (!/^\d{1,9}$/.test(seqRaw)) throw new AppError(400, 'VALIDATION_FAILED', 'SequenceNumber: not a whole number');
      sequenceNumber = Number(seqRaw);
    }
    if (kind === 'action' && p.DialCallSid && !isCallSid(p.DialCallSid)) {
      throw new AppError(400, 'VALIDATION_FAILED', 'DialCallSid: not a Twilio CallSid');
    }
    // Only our TwiML writes it, but it goes into key names and a hash tag: its shape is checked.
    if (namedAccount !== undefined && !isAccountId(namedAccount)) {
      throw new AppError(400, 'VALIDATION_FAILED', 'the callback URL\'s account: not an account id');
    }

    const accountId = namedAccount ?? (await this.directory.lookupCall(callSid));
    if (!accountId) return { outcome: 'unknown_call' };
    // A dialled <Client> leg answering names who took an inbound call (cached look-up).
    let answeredBy: string | null = null;
    if (kind === 'child' && status === 'in-progress' && p.To?.startsWith('client:')) {
      const owner = await this.directory.lookupIdentity(p.To.slice('client:'.length));
      if (owner?.accountId === accountId) answeredBy = owner.staffId;
    }
    const now = this.clock();
    const outcome = await this.store.recordCallEvent(
      accountId,
      {
        callSid,
        kind,
        legSid: sid,
        sequenceNumber,
        status,
        seconds,
        minutes: seconds === null ? null : billableMinutes(seconds, this.opts.billing),
        dialCallSid: p.DialCallSid ?? null,
        eventAt: parseTwilioTimestamp(p.Timestamp),
        answeredBy,
      },
      now,
    );
    // A call left waiting was queued for a check after the final grace by the script itself.
    if (outcome.outcome === 'pending' || outcome.outcome === 'unexpected_status') {
      await this.queue.index(accountId, outcome.indexAt);
    } else if (outcome.outcome === 'finalized' && outcome.wasUnsettled) {
      await this.queue.clearUnsettled(accountId, callSid);
    }
    return { ...outcome, accountId };
  }
}
