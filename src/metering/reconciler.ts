// R15: a call whose final signal never arrives is settled from Twilio's own records. Calls
// enter a due-set when they are placed (checked after a long while) and when their parent
// ends before a dialled leg reported (checked after the grace period). Every instance
// polls; ZREM decides who takes an entry, so each check runs once. Twilio's answer is
// metered through the same idempotent script as live signals; a failed look-up is tried
// again later and nothing is ever charged on a guess.
import { billableMinutes, type BillingRules } from '../domain/billing.js';
import type { Logger } from '../log.js';
import type { Cluster, Redis } from 'ioredis';
import { directoryKeys } from '../redis/keys.js';
import type { PoolStore } from '../redis/pool-store.js';
import type { TwilioRest } from '../twilio/rest-client.js';

const TERMINAL = new Set(['completed', 'busy', 'failed', 'no-answer', 'canceled']);

export interface ReconcilerOptions {
  prefix: string;
  billing: BillingRules;
  pollMs: number;
  /** A call still running at Twilio is looked at again after this long. */
  recheckMs: number;
  /** Back-off after a failed look-up. */
  retryMs: number;
}

export type ReconcileOutcome = 'settled' | 'already_final' | 'still_running' | 'unavailable' | 'unknown';

export class Reconciler {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private readonly key: string;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly store: PoolStore,
    private readonly rest: TwilioRest | null,
    private readonly opts: ReconcilerOptions,
    private readonly clock: () => number,
    private readonly log: Logger,
  ) {
    this.key = directoryKeys(opts.prefix).reconcile;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const due = await this.redis.zrangebyscore(this.key, '-inf', this.clock(), 'LIMIT', 0, 50);
      for (const member of due) {
        // Whoever removes the entry owns this check.
        if ((await this.redis.zrem(this.key, member)) !== 1) continue;
        const [accountId, callSid] = member.split(' ') as [string, string];
        const outcome = await this.reconcile(accountId, callSid).catch((err: unknown) => {
          this.log.warn('reconciliation failed', { err, callSid });
          return 'unavailable' as const;
        });
        if (outcome === 'still_running' || outcome === 'unavailable') {
          const wait = outcome === 'still_running' ? this.opts.recheckMs : this.opts.retryMs;
          await this.redis.zadd(this.key, this.clock() + wait, member);
        }
      }
    } catch (err) {
      this.log.warn('reconciliation poll failed', { err });
    } finally {
      this.running = false;
    }
  }

  async reconcile(accountId: string, callSid: string): Promise<ReconcileOutcome> {
    const state = await this.redis.hget(this.store.keys(accountId).call(callSid), 'state');
    if (!state || state === 'denied') return 'unknown';
    if (state === 'ended') return 'already_final';
    if (!this.rest) {
      this.log.warn('a call needs reconciliation but the Twilio REST settings are missing', { callSid });
      return 'unavailable';
    }
    const parent = await this.rest.fetchCall(callSid);
    if (!TERMINAL.has(parent.status)) return 'still_running';
    const legs = await this.rest.dialledLegs(callSid);
    if (legs.some((l) => !TERMINAL.has(l.status))) return 'still_running';
    // R4 on Twilio's record: the answered dialled legs' talk time, or the call's own
    // duration when it dialled nobody.
    const answered = legs.filter((l) => l.status === 'completed');
    let seconds: number;
    if (legs.length === 0) seconds = parent.status === 'completed' ? (parent.duration ?? 0) : 0;
    else seconds = answered.reduce((s, l) => s + (l.duration ?? 0), 0);
    const now = this.clock();
    for (const leg of legs) {
      await this.store.recordCallEvent(
        accountId,
        {
          callSid,
          kind: 'child',
          legSid: leg.sid,
          sequenceNumber: null,
          status: leg.status,
          // Only a completed leg's time is billed; record-call-event decides that.
          seconds: leg.duration ?? 0,
          minutes: billableMinutes(leg.duration ?? 0, this.opts.billing),
          dialCallSid: null,
        },
        now,
      );
    }
    // Twilio's record is final: settle as the <Dial action> would have.
    const r = await this.store.recordCallEvent(
      accountId,
      {
        callSid,
        kind: 'action',
        legSid: callSid,
        sequenceNumber: null,
        status: seconds > 0 || answered.length > 0 || (legs.length === 0 && parent.status === 'completed') ? 'completed' : 'no-answer',
        seconds,
        minutes: billableMinutes(seconds, this.opts.billing),
        dialCallSid: answered[0]?.sid ?? null,
      },
      now,
    );
    this.log.info('call reconciled from Twilio', { callSid, seconds, outcome: r.outcome });
    return 'settled';
  }
}
