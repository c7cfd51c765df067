// The Redis side of the archive (R19): which accounts have ledger entries PostgreSQL does
// not hold yet, and what those entries and their calls are. lib/ledger.lua marks an
// account's oldest unarchived entry in its pool ("unarchived") and announces the account
// on <prefix>:archive; an instance hearing it queues the account in the global due set,
// from which one instance at a time claims it with a lease (claim-due-1.lua). After the
// batch is committed to PostgreSQL, archive-done-2.lua moves the account's mark on, and
// the lease is let go only if nobody queued the account again meanwhile
// (release-lease-1.lua).
import type { Cluster, Redis } from 'ioredis';
import { accountKeys, archiveGlobalKeys, directoryKeys } from './keys.js';
import { accountPages } from './account-pages.js';
import { outcome } from './script-codes.js';
import { sendAll } from './send-all.js';
import type { ScriptRunner } from './scripts.js';

export interface UnarchivedEntry {
  id: string;
  fields: Record<string, string>;
}

export interface UnarchivedBatch {
  entries: UnarchivedEntry[];
  /** The call hashes of the batch's call_debit entries that do not carry their call's
   *  record ("cdr", written since issue #17's archive cost), by CallSid (empty when gone). */
  calls: Map<string, Record<string, string>>;
}

/** The settled call's fields its record is made of (jobs/archiver.ts archivedCall). */
const CALL_RECORD_FIELDS = [
  'state', 'callSid', 'direction', 'from', 'to', 'staffId', 'emergency', 'createdAt', 'answeredAt', 'endedAt', 'callEndedAt',
  'reservedMinutes', 'billableSeconds', 'billedMinutes', 'debitedMinutes', 'overageMinutes', 'cycleStart', 'legList',
] as const;

/** Lease scores end half a millisecond off the whole ms (release-lease-1.lua). */
export const leaseScore = (now: number, leaseMs: number) => now + leaseMs + 0.5;

function fieldsOf(flat: string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) o[flat[i]!] = flat[i + 1]!;
  return o;
}

export class ArchiveQueue {
  readonly dueKey: string;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly scripts: ScriptRunner,
    private readonly prefix: string,
  ) {
    this.dueKey = archiveGlobalKeys(prefix).due;
  }

  /** Queues the account for archiving from `ms` on, or earlier than it was queued (LT
   *  also lowers a lease's score: the account is due again at once). */
  async queue(accountId: string, ms: number): Promise<void> {
    await this.redis.zadd(this.dueKey, 'LT', ms, accountId);
  }

  /** Claims up to `max` due accounts for `leaseMs`; their lease score is leaseScore(now, leaseMs). */
  async claim(now: number, leaseMs: number, max: number): Promise<string[]> {
    const reply = await this.scripts.run('claim-due', [this.dueKey], [now, leaseMs + 0.5, max]);
    return reply.map(String);
  }

  /** Lets a claimed account go — or keeps it queued for `requeueAt` (ms: its next trim) —
   *  unless it was queued again meanwhile. */
  async release(accountId: string, score: number, requeueAt: number | null = null): Promise<boolean> {
    const reply = await this.scripts.run('release-lease', [this.dueKey], [accountId, score, requeueAt ?? '']);
    return outcome('release-lease', reply) === 'released';
  }

  /** The oldest queued time (ms) that is not a lease, how many accounts are queued, and
   *  the next time (ms) after `now` an account comes due (or a lease ends). */
  async backlog(now: number): Promise<{ oldestMs: number | null; accounts: number; nextDueMs: number | null }> {
    // Accounts queued for later (their next trim) or leased are not waiting.
    const [oldest, accounts, next] = await Promise.all([
      this.redis.zrangebyscore(this.dueKey, '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1),
      this.redis.zcount(this.dueKey, '-inf', now),
      this.redis.zrangebyscore(this.dueKey, `(${now}`, '+inf', 'WITHSCORES', 'LIMIT', 0, 1),
    ]);
    return { oldestMs: oldest.length >= 2 ? Number(oldest[1]) : null, accounts, nextDueMs: next.length >= 2 ? Number(next[1]) : null };
  }

  /** Up to `max` of the account's entries after its archive mark (or after the entry id
   *  `after`, to read on past a batch), with the call hashes they settled. Reads only. */
  async unarchived(accountId: string, max: number, after?: string): Promise<UnarchivedBatch> {
    const k = accountKeys(this.prefix, accountId);
    const through = after ?? (await this.redis.hget(k.pool, 'archivedTo'));
    const rows = await this.redis.xrange(k.ledger, through ? `(${through}` : '-', '+', 'COUNT', max);
    const entries = rows.map(([id, flat]) => ({ id, fields: fieldsOf(flat) }));
    const sids = entries.filter((e) => e.fields.kind === 'call_debit' && e.fields.ref && e.fields.cdr === undefined).map((e) => e.fields.ref!);
    const hashes = await Promise.all(sids.map((sid) => this.callRecord(k.call(sid))));
    return { entries, calls: new Map(sids.map((sid, i) => [sid, hashes[i]!])) };
  }

  /** What a call detail record takes from a settled call's hash: the fields below and its
   *  legs ("leg:<sid>"), not the rest (idempotency marks and the like: two thirds of the
   *  hash, whose decoding was most of the archiver's CPU). Empty when there is no hash. */
  private async callRecord(key: string): Promise<Record<string, string>> {
    const values = await this.redis.hmget(key, ...CALL_RECORD_FIELDS);
    const h: Record<string, string> = {};
    CALL_RECORD_FIELDS.forEach((f, i) => {
      if (values[i] !== null && values[i] !== undefined) h[f] = values[i]!;
    });
    const legs = (h.legList ?? '').split(',').filter((x) => x !== '').map((sid) => `leg:${sid}`);
    if (legs.length > 0) {
      const legValues = await this.redis.hmget(key, ...legs);
      legs.forEach((f, i) => {
        if (legValues[i] !== null && legValues[i] !== undefined) h[f] = legValues[i]!;
      });
    }
    return h;
  }

  /** Records that everything up to `through` is in PostgreSQL and trims what is archived
   *  and older than `windowStartMs` (archive-done-2.lua): 'more' when entries after it
   *  wait; otherwise the ms of the oldest entry still in the stream (null: none). */
  async done(
    accountId: string,
    through: string,
    windowStartMs: number,
  ): Promise<{ result: 'all_archived'; oldestMs: number | null } | { result: 'more' | 'no_account' }> {
    const k = accountKeys(this.prefix, accountId);
    const reply = await this.scripts.run('archive-done', [k.pool, k.ledger], [through, Math.floor(windowStartMs)]);
    const result = outcome('archive-done', reply);
    if (result !== 'all_archived') return { result };
    const oldest = Number(reply[1]);
    return { result, oldestMs: oldest >= 0 ? oldest : null };
  }

  /** A batch of one account's settled calls is archived (calls-archived-n.lua, one run):
   *  each leaves the ended set, its hash and its CallSid look-up stay `keepMs` more (late
   *  signals, quick look-ups), then expire. */
  async callsArchived(accountId: string, calls: { callSid: string; keepMs: number }[]): Promise<void> {
    if (calls.length === 0) return;
    const k = accountKeys(this.prefix, accountId);
    const ms = calls.map((c) => Math.max(1, Math.floor(c.keepMs)));
    const reply = await this.scripts.run(
      'calls-archived',
      [k.endedCalls, ...calls.map((c) => k.call(c.callSid))],
      calls.flatMap((c, i) => [c.callSid, ms[i]!]),
    );
    // The look-ups are global keys (other slots): single commands, sent together.
    const dir = directoryKeys(this.prefix);
    await sendAll(
      this.redis,
      calls.flatMap((c, i): [string, string, number][] => (outcome('calls-archived', [reply[i]!]) === 'done' ? [['pexpire', dir.call(c.callSid), ms[i]!]] : [])),
    );
  }

  /** Every account with an unarchived entry, by the ms of that entry: the accounts from
   *  the cycle schedule (it holds every account), their "unarchived" mark. Reads only; for
   *  the sweep that finds accounts whose announcement nobody heard. */
  async *marked(): AsyncGenerator<{ accountId: string; ms: number }> {
    for await (const ids of accountPages(this.redis, this.prefix, 500)) {
      const marks = (await sendAll(this.redis, ids.map((id): [string, string, string] => ['hget', accountKeys(this.prefix, id).pool, 'unarchived']))) as (string | null)[];
      for (let i = 0; i < ids.length; i++) {
        const m = marks[i];
        if (m) yield { accountId: ids[i]!, ms: Number(m.split('-')[0]) };
      }
    }
  }

}

/** The accounts lib/ledger.lua announces on "<prefix>:archive", heard on the subscriber
 *  connection the alerts use (a subscriber may listen to several channels). */
export class ArchiveAnnouncements {
  private readonly channel: string;

  constructor(
    private readonly subscriber: Redis | Cluster,
    prefix: string,
  ) {
    this.channel = archiveGlobalKeys(prefix).announcements;
  }

  async listen(fn: (accountId: string, ms: number) => void): Promise<void> {
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      const [accountId, ms] = message.split(' ');
      if (!accountId || !ms || !/^\d+$/.test(ms)) return;
      fn(accountId, Number(ms));
    });
    await this.subscriber.subscribe(this.channel);
  }

  onReconnect(fn: () => void): void {
    this.subscriber.on('ready', fn);
  }
}
