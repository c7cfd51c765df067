// R12: Twilio Video participant minutes draw from the same pool under the same rules.
// A participant is metered like a call with no dialled leg: `participant-connected` opens
// it (reserving, never refusing: it is already connected), `participant-disconnected`
// settles it on its ParticipantDuration through the same exactly-once script. Video
// callbacks carry no usable order (their SequenceNumber is internal), so each event is
// idempotent on its own and a disconnect that overtakes its connect is still metered.
import { billableMinutes, parseSeconds, type BillingRules } from '../domain/billable-minutes.js';
import { AppError } from '../domain/errors.js';
import { isIdentity } from '../domain/ids.js';
import { parseTwilioTimestamp } from '../domain/twilio-time.js';
import type { PoolStore } from '../redis/pool-store.js';
import type { Directory } from './directory.js';
import { checkMember, type ReconcileQueue } from '../redis/reconcile-queue.js';

export type VideoOutcome = 'opened' | 'settled' | 'pending' | 'duplicate' | 'ignored' | 'unknown_account';

const SID = /^[A-Z]{2}[0-9A-Za-z_-]{1,64}$/;

export class VideoMetering {
  constructor(
    private readonly store: PoolStore,
    private readonly directory: Directory,
    private readonly queue: ReconcileQueue,
    private readonly opts: {
      billing: BillingRules;
      reserveMinutes: number;
      /** When a participant is first checked against Twilio Video (R15). */
      firstCheckMs: number;
      /** When a disconnect without a duration is checked. */
      finalGraceMs: number;
    },
    private readonly clock: () => number,
  ) {}

  async record(p: Record<string, string | undefined>): Promise<VideoOutcome> {
    const event = p.StatusCallbackEvent ?? '';
    if (event !== 'participant-connected' && event !== 'participant-disconnected') return 'ignored';
    const roomSid = p.RoomSid ?? '';
    const participantSid = p.ParticipantSid ?? '';
    if (!SID.test(roomSid)) throw new AppError(400, 'VALIDATION_FAILED', 'RoomSid: missing or not a Twilio RoomSid');
    if (!SID.test(participantSid)) throw new AppError(400, 'VALIDATION_FAILED', 'ParticipantSid: missing or not a Twilio ParticipantSid');
    let seconds: number | null = null;
    if (event === 'participant-disconnected') {
      seconds = parseSeconds(p.ParticipantDuration);
      // A missing duration is not refused (Twilio would never resend it): the participant
      // is left for reconciliation. A present but malformed one is a malformed request.
      if (seconds === null && p.ParticipantDuration !== undefined && p.ParticipantDuration !== '') {
        throw new AppError(400, 'VALIDATION_FAILED', 'ParticipantDuration: not a whole number of seconds');
      }
    }
    const identity = p.ParticipantIdentity ?? '';

    // Whose pool: a staff member's identity names it (and ties the room to it); any other
    // participant draws from the pool of the room's account.
    const staff = isIdentity(identity) ? await this.directory.lookupIdentity(identity) : null;
    let accountId = staff?.accountId ?? null;
    if (accountId) await this.directory.rememberRoom(roomSid, accountId);
    else accountId = await this.directory.lookupRoom(roomSid);
    if (!accountId) return 'unknown_account';

    const now = this.clock();
    const opened = await this.store.authorizeCall(
      {
        accountId,
        callSid: participantSid,
        direction: 'video',
        from: identity,
        to: p.RoomName ?? roomSid,
        staffId: staff?.staffId ?? '',
        reserveMinutes: this.opts.reserveMinutes,
        authorizationId: '',
        expectedLegs: 0,
        // Should the disconnect be lost, Twilio Video's record settles it (R15).
        check: { member: checkMember(participantSid, roomSid), dueAt: now + this.opts.firstCheckMs },
      },
      now,
    );
    // The account was removed since the room was mapped to it.
    if (!opened) return 'unknown_account';
    // The check was queued by the script that opened the participant; rarely the index needs telling.
    if (opened.decision === 'allowed') await this.queue.index(accountId, opened.indexAt);
    if (event === 'participant-connected') return opened.decision === 'allowed' && opened.via === 'repeat' ? 'duplicate' : 'opened';
    const r = await this.store.recordCallEvent(
      accountId,
      {
        callSid: participantSid,
        kind: 'parent',
        legSid: participantSid,
        sequenceNumber: null,
        status: 'completed',
        seconds,
        minutes: seconds === null ? null : billableMinutes(seconds, this.opts.billing),
        dialCallSid: null,
        eventAt: parseTwilioTimestamp(p.Timestamp),
        checkMember: checkMember(participantSid, roomSid),
      },
      now,
    );
    if (r.outcome === 'pending') {
      await this.queue.index(accountId, r.indexAt);
      return 'pending';
    }
    if (r.outcome !== 'finalized') return 'duplicate';
    if (r.wasUnsettled) await this.queue.clearUnsettled(accountId, participantSid);
    return 'settled';
  }
}
