// The audit (R20, issue #18 §2): Twilio's own list of the calls that started in a window,
// checked against what the gateway settled. Each parent call Twilio completed is
//   matched     — settled here, billed what its record implies (R4: the answered leg);
//   settled     — never settled here (its signals, its settlement, or its whole record in
//                 Redis were lost): settled now from Twilio's record through the same
//                 exactly-once script as every call (record-call-event-8.lua; a call Redis
//                 does not hold is first adopted, adopt-call-5.lua), booked in the cycle it
//                 ended in (R16) and listed like any other;
//   mismatched  — settled here for another figure: reported with both, changed in nothing;
//   unmapped    — no account: not a CallSid the gateway knows, not from a staff softphone,
//                 not to an account's number.
// A record that is not complete yet (still running, a completed leg without its duration,
// a call that dialled with no legs listed yet) is left for a later audit, never guessed.
//
// Safety of "never settled": for each call the live state (Redis) is read before the
// books (PostgreSQL). A settled call leaves Redis only once it is archived, so a call Redis
// did not hold when it was read, and that the books did not hold after, was never settled:
// read the other way round, a call archived and trimmed in between would be settled twice.
// That is also why the audit needs PostgreSQL: Redis alone cannot tell "trimmed" from "lost".
import { billableMinutes, type BillingRules } from '../domain/billable-minutes.js';
import { isE164 } from '../domain/ids.js';
import type { Logger } from '../log.js';
import { decideDestination, type DialPolicy } from '../metering/dial-policy.js';
import type { Directory } from '../metering/directory.js';
import { AuditStore, type ArchivedSettlement } from '../postgres/audit-store.js';
import type { PoolStore } from '../redis/pool-store.js';
import type { ReconcileOutcome } from '../jobs/reconciler.js';
import type { TwilioCall, TwilioCallPage, TwilioRest } from '../twilio/rest-client.js';
import type { Config } from '../config.js';
import type { Books } from '../postgres/books.js';
import type { Reconciler } from '../jobs/reconciler.js';

const TERMINAL = new Set(['completed', 'busy', 'failed', 'no-answer', 'canceled']);
/** Twilio's largest page. */
export const DEFAULT_AUDIT_PAGE_SIZE = 1000;

export interface AuditReport {
  from: string;
  to: string;
  /** Parent calls Twilio lists as started in [from, to). */
  twilioCalls: number;
  matched: number;
  settled: number;
  mismatched: number;
  unmapped: number;
}

/** Twilio's list of calls, and a parent's legs when the list did not carry them. */
export interface TwilioCallList {
  callsStarted(fromMs: number, toMs: number, pageSize: number): AsyncIterable<TwilioCallPage>;
  dialledLegs(parentCallSid: string): Promise<TwilioCall[]>;
}

export interface AuditDeps {
  twilio: TwilioCallList;
  pool: PoolStore;
  directory: Directory;
  books: AuditStore;
  /** Settles a call from Twilio's record (the reconciler's way: jobs/reconciler.ts). */
  settle(accountId: string, parent: TwilioCall, legs: TwilioCall[], expectedLegs: number): Promise<ReconcileOutcome>;
  billing: BillingRules;
  dialling: DialPolicy;
  clock: () => number;
  log: Logger;
  pageSize?: number;
}

type LiveCall = NonNullable<Awaited<ReturnType<PoolStore['callState']>>>;

/** Where a parent call belongs, as far as Redis and the journal tell (the books' calls
 *  table is read after, see the header). */
interface Located {
  accountId: string | null;
  staffId: string;
  direction: 'outbound' | 'inbound';
  live: LiveCall | null;
}

export class Audit {
  constructor(private readonly d: AuditDeps) {}

  /** Audits the calls that started in [fromMs, toMs). Throws when Twilio (or the books)
   *  cannot be read; what was settled before that stays settled, exactly once. */
  async run(fromMs: number, toMs: number): Promise<AuditReport> {
    const report: AuditReport = {
      from: new Date(fromMs).toISOString(),
      to: new Date(toMs).toISOString(),
      twilioCalls: 0,
      matched: 0,
      settled: 0,
      mismatched: 0,
      unmapped: 0,
    };
    // Twilio lists newest first, so a leg (which starts after its parent) is usually on the
    // parent's page or an earlier one; a parent whose legs were not seen is looked up.
    const legsOf = new Map<string, Map<string, TwilioCall>>();
    for await (const page of this.d.twilio.callsStarted(fromMs, toMs, this.d.pageSize ?? DEFAULT_AUDIT_PAGE_SIZE)) {
      for (const c of page.calls) {
        if (!c.parentCallSid) continue;
        const legs = legsOf.get(c.parentCallSid) ?? new Map<string, TwilioCall>();
        legs.set(c.sid, c);
        legsOf.set(c.parentCallSid, legs);
      }
      // Twilio filters by whole days: the window itself is applied here, by each start.
      const parents = page.calls.filter((c) => !c.parentCallSid && c.startTime !== null && c.startTime >= fromMs && c.startTime < toMs);
      report.twilioCalls += parents.length;
      const located: Located[] = [];
      for (const p of parents) located.push(await this.locate(p)); // Redis first...
      const archived = await this.d.books.settledCalls(parents.map((p) => p.sid)); // ...then the books
      for (let i = 0; i < parents.length; i++) {
        const p = parents[i]!;
        const listed = legsOf.get(p.sid);
        legsOf.delete(p.sid);
        const result = await this.audit(p, located[i]!, archived.get(p.sid) ?? null, listed ? [...listed.values()] : null);
        if (result) report[result] += 1;
      }
    }
    this.d.log.info('audit finished', { ...report });
    return report;
  }

  private async locate(p: TwilioCall): Promise<Located> {
    const byCall = await this.d.directory.lookupCall(p.sid);
    let who: { accountId: string; staffId: string } | null = null;
    let direction: 'outbound' | 'inbound' = 'inbound';
    if (p.from.startsWith('client:')) {
      direction = 'outbound';
      const identity = p.from.slice(7);
      // A staff member removed since (or a Redis that lost them): the journal still knows.
      who = (await this.d.directory.lookupIdentity(identity)) ?? (await this.d.books.identityOwner(identity));
    } else if (isE164(p.to)) {
      const owner = (await this.d.directory.lookupNumber(p.to)) ?? (await this.d.books.numberOwner(p.to));
      if (owner) who = { accountId: owner, staffId: '' };
    }
    const accountId = byCall ?? who?.accountId ?? null;
    const live = accountId ? await this.d.pool.callState(accountId, p.sid) : null;
    return { accountId, staffId: who && who.accountId === accountId ? who.staffId : '', direction, live };
  }

  private async audit(
    p: TwilioCall,
    loc: Located,
    archived: ArchivedSettlement | null,
    listedLegs: TwilioCall[] | null,
  ): Promise<keyof Pick<AuditReport, 'matched' | 'settled' | 'mismatched' | 'unmapped'> | null> {
    const { log } = this.d;
    const callSid = p.sid;
    const accountId = archived?.accountId ?? loc.accountId;
    if (!accountId) {
      log.info('audit: call of no account', { callSid, from: p.from, to: p.to, status: p.status });
      return 'unmapped';
    }
    if (!TERMINAL.has(p.status)) {
      log.debug('audit: call still running at Twilio; left for a later audit', { callSid, accountId, status: p.status });
      return null;
    }
    const live = archived ? null : loc.live;
    const open = live !== null && (live.state === 'active' || live.state === 'unsettled');
    // A call that never connected costs nothing: only a hold still open here is settled
    // (refused calls, <Reject>ed, are none of ours to list).
    if (p.status !== 'completed' && !open) return null;

    const legs = listedLegs ?? (await this.d.twilio.dialledLegs(callSid));
    // Every call the gateway allows is a <Dial> (twilio/twiml.ts): one it does not hold
    // dialled, whether or not Twilio lists its legs yet.
    const expectedLegs = live ? live.expectedLegs : Math.max(1, legs.length);
    const to = p.to || legs[0]?.to || '';
    const emergency = archived?.emergency ?? live?.emergency ?? (loc.direction === 'outbound' && decideDestination(this.d.dialling, to).kind === 'emergency');
    const theirs = this.twilioFigure(p, legs, expectedLegs, emergency);
    if (theirs === null) {
      log.info('audit: Twilio’s record is not complete yet; left for a later audit', { callSid, accountId });
      return null;
    }

    const ours = archived ? archived.billedMinutes : live?.state === 'ended' ? live.billedMinutes : live?.state === 'denied' ? 0 : null;
    if (ours !== null || live?.state === 'denied') return this.compare(callSid, accountId, ours ?? 0, theirs, live?.state === 'denied');

    if (!live) {
      const adopted = await this.d.pool.adoptCall(
        accountId,
        { callSid, direction: loc.direction, from: p.from, to, staffId: loc.staffId, legs: expectedLegs, startedAt: p.startTime ?? this.d.clock(), emergency },
        this.d.clock(),
      );
      if (adopted === null) {
        log.warn('audit: the call’s account is not in Redis (restore it first); left for a later audit', { callSid, accountId });
        return null;
      }
    }
    const outcome = await this.d.settle(accountId, p, legs, expectedLegs);
    if (outcome === 'settled') {
      log.info('audit: settled a call the gateway had not settled', { callSid, accountId, billedMinutes: theirs, lostRecord: !live });
      return 'settled';
    }
    if (outcome === 'already_final') {
      // Settled meanwhile by a signal or the reconciler: compare with what that billed.
      const now = await this.d.pool.callState(accountId, callSid);
      return this.compare(callSid, accountId, now?.billedMinutes ?? 0, theirs, false);
    }
    log.info('audit: call not settled from Twilio’s record; left for a later audit', { callSid, accountId, outcome });
    return null;
  }

  private compare(callSid: string, accountId: string, ours: number, theirs: number, denied: boolean): 'matched' | 'mismatched' {
    if (ours === theirs && !denied) return 'matched';
    this.d.log.warn('audit: settled for another figure than Twilio’s record implies (not changed)', {
      callSid,
      accountId,
      ourBilledMinutes: ours,
      twilioBilledMinutes: theirs,
      ...(denied ? { ours: 'refused here, completed at Twilio' } : {}),
    });
    return 'mismatched';
  }

  /** The minutes Twilio's record implies (R4: the answered leg that talked longest — the
   *  bridged one; the call's own duration only for a call that dialled nobody), or null
   *  while the record is incomplete. */
  private twilioFigure(p: TwilioCall, legs: TwilioCall[], expectedLegs: number, emergency: boolean): number | null {
    let seconds = 0;
    if (expectedLegs === 0) {
      if (p.status === 'completed' && p.duration === null) return null;
      seconds = p.status === 'completed' ? (p.duration ?? 0) : 0;
    } else if (p.status === 'completed') {
      // Twilio's lists are eventually consistent: a call that dialled shows its legs later.
      if (legs.length === 0) return null;
      if (legs.some((l) => !TERMINAL.has(l.status) || (l.status === 'completed' && l.duration === null))) return null;
      for (const l of legs) if (l.status === 'completed') seconds = Math.max(seconds, l.duration ?? 0);
    } else if (legs.some((l) => !TERMINAL.has(l.status))) {
      return null;
    }
    return emergency ? 0 : billableMinutes(seconds, this.d.billing);
  }
}

/** The audit (R20) of one process — a gateway's periodic one, or `npm run audit`. */
export function auditFor(d: {
  rest: TwilioRest;
  store: PoolStore;
  directory: Directory;
  books: Books;
  reconciler: Reconciler;
  config: Config;
  clock: () => number;
  log: Logger;
  pageSize?: number;
}): Audit {
  const m = d.config.metering;
  return new Audit({
    twilio: d.rest,
    pool: d.store,
    directory: d.directory,
    books: new AuditStore(d.books.db),
    settle: (accountId, parent, legs, expectedLegs) => d.reconciler.settleFromRecord(accountId, parent, legs, expectedLegs),
    billing: { minBillableSeconds: m.minBillableSeconds, billingIncrementSeconds: m.billingIncrementSeconds },
    dialling: d.config.dialling,
    clock: d.clock,
    log: d.log,
    pageSize: d.pageSize,
  });
}
