// R15's queue in Redis: calls and video participants due for a check against Twilio's
// records (a global sorted set, by due time, whose members claim themselves with ZREM so
// each check runs once), and the index of calls whose hold was released unsettled. Global
// keys, touched by single-key commands only, so any cluster slot will do.
import type { Cluster, Redis } from 'ioredis';
import { directoryKeys } from './keys.js';

/** A queue entry: "accountId callSid", or "accountId participantSid roomSid". */
export function reconcileMember(accountId: string, sid: string, roomSid?: string): string {
  return roomSid ? `${accountId} ${sid} ${roomSid}` : `${accountId} ${sid}`;
}

export function parseReconcileMember(member: string): { accountId: string; sid: string; roomSid: string | null } {
  const [accountId = '', sid = '', roomSid] = member.split(' ');
  return { accountId, sid, roomSid: roomSid ?? null };
}

export class ReconcileQueue {
  private readonly k;

  constructor(
    private readonly redis: Redis | Cluster,
    prefix: string,
  ) {
    this.k = directoryKeys(prefix);
  }

  /** The call (or participant, with its room) is checked at `dueAt` unless due earlier already. */
  async schedule(accountId: string, sid: string, dueAt: number, roomSid?: string): Promise<void> {
    await this.redis.zadd(this.k.reconcile, 'LT', dueAt, reconcileMember(accountId, sid, roomSid));
  }

  async reschedule(member: string, dueAt: number): Promise<void> {
    await this.redis.zadd(this.k.reconcile, 'LT', dueAt, member);
  }

  /** Up to `max` entries due by `now`, each taken by this caller alone (ZREM decides). */
  async claimDue(now: number, max: number): Promise<string[]> {
    const due = await this.redis.zrangebyscore(this.k.reconcile, '-inf', now, 'LIMIT', 0, max);
    const mine: string[] = [];
    for (const member of due) if ((await this.redis.zrem(this.k.reconcile, member)) === 1) mine.push(member);
    return mine;
  }

  backlog(now: number): Promise<number> {
    return this.redis.zcount(this.k.reconcile, '-inf', now);
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
