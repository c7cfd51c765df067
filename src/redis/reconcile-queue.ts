// R15's queue in Redis. Each account keeps its own checks (lua/lib/checks.lua: a sorted set
// in its slot, written by the same script that opens or leaves a call waiting, so a
// webhook pays no extra command for it); a small global index (accountId by next due
// time, reconcile-index-1.lua) tells reconciliation which accounts to look at, and is
// written only when an account's earliest check moves earlier. Index entries and checks
// are leased, never taken away: an instance that dies mid-pass leaves them due again.
// An index write that fails never fails the webhook that asked for it (the check itself is
// safe in the account's slot): this instance retries it on its next pass, and the repair
// sweep (reindexPage, from every account's own queue) finds it should the instance die first.
// Also here: the index of calls whose hold was released unsettled, and the drain of the
// global queue that versions before the per-account checks wrote.
import type { Cluster, Redis } from 'ioredis';
import { accountKeys, billingGlobalKeys, directoryKeys } from './keys.js';
import type { ScriptRunner } from './scripts.js';

/** A queue entry as reconciliation handles it: "accountId callSid", or "accountId participantSid roomSid". */
export function parseReconcileMember(member: string): { accountId: string; sid: string; roomSid: string | null } {
  const [accountId = '', sid = '', roomSid] = member.split(' ');
  return { accountId, sid, roomSid: roomSid ?? null };
}

/** The member of an account's checks for a call ("callSid") or a video participant ("participantSid roomSid"). */
export function checkMember(sid: string, roomSid?: string | null): string {
  return roomSid ? `${sid} ${roomSid}` : sid;
}

/** An index lease ends half a millisecond off the whole ms, so it never equals a due time. */
const HALF_MS = 0.5;

export interface ClaimedAccount {
  accountId: string;
  /** The index entry's lease, handed back to release(). */
  leaseEnd: number;
}

export class ReconcileQueue {
  private readonly k;
  /** Index writes that failed on this instance: account → the earliest due time to write. */
  private readonly unindexed = new Map<string, number>();

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly scripts: ScriptRunner,
    private readonly prefix: string,
  ) {
    this.k = directoryKeys(prefix);
  }

  /** Tells the index the account has a check due at `dueAt` (what authorize-call,
   *  record-call-event and schedule-check ask for when they return a non-zero time). */
  async index(accountId: string, dueAt: number): Promise<void> {
    if (dueAt <= 0) return;
    try {
      await this.writeIndex(accountId, dueAt);
    } catch {
      this.unindexed.set(accountId, Math.min(dueAt, this.unindexed.get(accountId) ?? Infinity));
    }
  }

  /** How many accounts wait for a retried index write on this instance. */
  get unindexedCount(): number {
    return this.unindexed.size;
  }

  private async writeIndex(accountId: string, dueAt: number): Promise<void> {
    await this.scripts.run('reconcile-index', [this.k.reconcileIndex], [accountId, dueAt, '']);
  }

  /** Writes the index entries that failed on this instance; throws (keeping the rest) on
   *  the first that fails again. Returns how many were written. */
  async retryUnindexed(): Promise<number> {
    let n = 0;
    for (const [accountId, dueAt] of [...this.unindexed]) {
      await this.writeIndex(accountId, dueAt);
      this.unindexed.delete(accountId);
      n++;
    }
    return n;
  }

  /** The repair sweep, a page at a time: every account (from the cycle schedule, which holds
   *  them all) is indexed at its next due check, read from its own queue. Returns the cursor
   *  of the next page, "0" when the sweep is done. */
  async reindexPage(cursor: string, now: number): Promise<string> {
    const [next, flat] = await this.redis.zscan(billingGlobalKeys(this.prefix).cycleDue, cursor, 'COUNT', 200);
    for (let i = 0; i < flat.length; i += 2) {
      const accountId = flat[i]!;
      const { next: due } = await this.claimChecks(accountId, now, 0, 0);
      if (due !== null) await this.writeIndex(accountId, due);
    }
    return next;
  }

  /** Queues a check (a video participant's, or reconciliation's "look again at"); with
   *  `replace` the new time stands even if later. */
  async schedule(accountId: string, member: string, dueAt: number, replace = false): Promise<void> {
    const k = accountKeys(this.prefix, accountId);
    const reply = await this.scripts.run('schedule-check', [k.pool, k.checks], [member, dueAt, replace ? 'replace' : '']);
    await this.index(accountId, Number(reply));
  }

  /** The check needs no more looking at. */
  async drop(accountId: string, member: string): Promise<void> {
    const k = accountKeys(this.prefix, accountId);
    await this.scripts.run('schedule-check', [k.pool, k.checks], [member, '', '']);
  }

  /** Up to `max` accounts with checks due by `now`, each leased to this caller for `leaseMs`. */
  async claimAccounts(now: number, leaseMs: number, max: number): Promise<ClaimedAccount[]> {
    const lease = leaseMs + HALF_MS;
    const ids = (await this.scripts.run('claim-due', [this.k.reconcileIndex], [now, lease, max])) as string[];
    return ids.map((accountId) => ({ accountId, leaseEnd: now + lease }));
  }

  /** Up to `max` of the account's checks due by `now`, leased for `leaseMs` (max 0: none,
   *  only the account's next due time is read and noted). Returns the members and the
   *  account's next due time (null: nothing queued). */
  async claimChecks(accountId: string, now: number, leaseMs: number, max: number): Promise<{ members: string[]; next: number | null }> {
    const k = accountKeys(this.prefix, accountId);
    const [next, ...members] = (await this.scripts.run('claim-checks', [k.pool, k.checks], [now, leaseMs, max])) as string[];
    return { members, next: next ? Number(next) : null };
  }

  /** Ends this caller's lease on the account's index entry: the account's next due time, or gone. */
  async release(claimed: ClaimedAccount, next: number | null): Promise<void> {
    await this.scripts.run('reconcile-index', [this.k.reconcileIndex], [claimed.accountId, next ?? '', claimed.leaseEnd]);
  }

  /** Accounts with checks due by `now`, and entries of the old global queue. */
  async backlog(now: number): Promise<number> {
    const [accounts, legacy] = await Promise.all([
      this.redis.zcount(this.k.reconcileIndex, '-inf', now),
      this.redis.zcount(this.k.reconcile, '-inf', now),
    ]);
    return accounts + legacy;
  }

  /** The old global queue ("accountId sid [roomSid]"): up to `max` entries due by `now`,
   *  each taken by this caller alone (ZREM decides). Reconciliation moves what is still to
   *  check into the account's own queue. */
  async claimLegacy(now: number, max: number): Promise<string[]> {
    const due = await this.redis.zrangebyscore(this.k.reconcile, '-inf', now, 'LIMIT', 0, max);
    const mine: string[] = [];
    for (const member of due) if ((await this.redis.zrem(this.k.reconcile, member)) === 1) mine.push(member);
    return mine;
  }

  async markUnsettled(accountId: string, callSid: string, at: number): Promise<void> {
    await this.redis.zadd(this.k.unsettled, at, `${accountId} ${callSid}`);
  }

  async clearUnsettled(accountId: string, callSid: string): Promise<void> {
    await this.redis.zrem(this.k.unsettled, `${accountId} ${callSid}`);
  }

  countUnsettled(): Promise<number> {
    return this.redis.zcard(this.k.unsettled);
  }
}
