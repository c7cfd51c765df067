// Archives every ledger entry and every settled call to PostgreSQL within seconds (R19,
// issue #17 §3). Accounts with unarchived entries reach the global due set two ways: the
// announcement lib/ledger.lua makes when an account gets its first unarchived entry
// (heard by every instance), and a sweep of every account's mark at start-up, hourly and
// whenever the announcement subscriber reconnects (for announcements nobody heard). Each
// pass claims due accounts with a lease, reads a batch of entries of each, writes them and
// the calls they settled to PostgreSQL, the accounts together, in one transaction
// (idempotent by entry id and CallSid), then tells Redis account by account
// (archive-done-2.lua). An instance killed mid-batch leaves its accounts due again
// when the lease ends; what it committed is written again as nothing. Nothing here waits
// on a webhook or a socket: metering never waits for PostgreSQL.
import type { Logger } from '../log.js';
import type { ArchiveBatch, ArchivedCall, ArchiveStore } from '../postgres/archive-store.js';
import { leaseScore, type ArchiveAnnouncements, type ArchiveQueue, type UnarchivedEntry } from '../redis/archive-queue.js';
import { isBooksAway } from '../postgres/unavailable.js';
import { archivedCall, archivedEntry } from './archive-records.js';
import { PeriodicJob } from './periodic.js';

export interface ArchiverOptions {
  /** How often each instance looks for due accounts (and, when woken, at once). */
  pollMs: number;
  /** An announced account (its first entry not archived yet) is archived this long after
   *  that entry, with whatever the account wrote meanwhile: a busy account's entries go to
   *  PostgreSQL in one transaction every half second, not one each (ms; 0: at once). */
  batchDelayMs: number;
  /** How long a claimed account is this instance's (then due again). */
  leaseMs: number;
  /** Accounts per pass, and entries per pass: read from as many of its accounts as it
   *  takes, written in one statement. */
  accountsPerPass: number;
  entriesPerBatch: number;
  /** How often the sweep of every account's mark runs (besides start-up and reconnects). */
  sweepMs: number;
  /** After a failed batch (PostgreSQL away), the account is tried again this much later. */
  retryMs: number;
  /** Archived ledger entries stay in Redis this long (LEDGER_REDIS_WINDOW_SECONDS). */
  ledgerWindowMs: number;
  /** An archived call's record stays this long after it settled (CALL_REDIS_RETENTION_SECONDS). */
  callRetentionMs: number;
}

export const DEFAULT_ARCHIVER_OPTIONS: ArchiverOptions = {
  pollMs: 1000,
  // A batch's own cost (its transaction, its statement planned, the commit's WAL flush,
  // and ~8 Redis commands) is 10–30 times a call's: at 5 calls a batch it was most of what
  // archiving cost (BENCHMARKS.md, session 24). Half a second keeps R19's "within
  // seconds" with room, and the window in which a settled call is in Redis alone short.
  batchDelayMs: 500,
  leaseMs: 15_000,
  accountsPerPass: 50,
  entriesPerBatch: 1000,
  sweepMs: 3600_000,
  retryMs: 1000,
  ledgerWindowMs: 3600_000,
  callRetentionMs: 86_400_000,
};

/** Accounts coming due within this many ms of each other are archived in one pass. */
const GROUP_MS = 100;

/** One account's part of a pass: its entries as Redis holds them, and as the books take
 *  them; what became of it in the pass's write ('alone': to be written alone, the
 *  statement it was part of refused; 'failed': not written, queued again). */
interface Batch extends ArchiveBatch {
  source: UnarchivedEntry[];
  state: 'pending' | 'alone' | 'failed';
}

export class Archiver {
  private readonly job: PeriodicJob;
  private readonly sweepJob: PeriodicJob;
  /** As of the last pass: the age of the oldest waiting entry (s) and accounts waiting. */
  lagSeconds = 0;
  pendingAccounts = 0;
  archived = { entries: 0, calls: 0 };
  /** Announcements heard that could not be queued (Redis away): the sweep finds them. */
  private sweepWanted = false;

  constructor(
    private readonly queue: ArchiveQueue,
    private readonly books: ArchiveStore,
    private readonly announcements: ArchiveAnnouncements | null,
    private readonly opts: ArchiverOptions,
    private readonly log: Logger,
    private readonly hooks: {
      /** Seconds between an entry's append and its commit, for the lag histogram. */
      onLag?: (seconds: number) => void;
      /** Whether the books are open (until then a pass claims nothing). */
      ready?: () => boolean;
      /** The gateway's clock, against which calls settled (their retention); default Date.now. */
      clock?: () => number;
    } = {},
  ) {
    this.job = new PeriodicJob('archive', opts.pollMs, () => this.pass(), log);
    this.sweepJob = new PeriodicJob('archive sweep', opts.sweepMs, async () => void (await this.sweep()), log);
  }

  async start(): Promise<void> {
    if (this.announcements) {
      await this.announcements.listen((accountId, ms) => {
        const due = ms + this.opts.batchDelayMs;
        this.queue.queue(accountId, due).then(
          () => this.wakeAt(due),
          (err: unknown) => {
            this.sweepWanted = true;
            this.log.warn('archive: could not queue an announced account; the sweep will', { err, accountId });
          },
        );
      });
      this.announcements.onReconnect(() => this.sweepJob.wake());
    }
    this.job.start();
    this.sweepJob.start(); // its first pass runs at once: the start-up sweep
  }

  async stop(): Promise<void> {
    await Promise.all([this.job.stop(), this.sweepJob.stop()]);
  }

  /** A pass when an account queued for `due` (ms) comes due, GROUP_MS after it, so that
   *  the accounts coming due together go in one pass, one transaction. */
  private wakeAt(due: number): void {
    this.job.wakeIn(due + GROUP_MS - Date.now());
  }

  wake(): void {
    this.job.wake();
  }

  /** Queues every account whose mark says it has unarchived entries. */
  async sweep(): Promise<number> {
    this.sweepWanted = false;
    let n = 0;
    for await (const { accountId, ms } of this.queue.marked()) {
      await this.queue.queue(accountId, ms);
      n++;
    }
    if (n > 0) this.job.wake();
    return n;
  }

  /** One pass: claim due accounts, read the next batch of each, write them all to
   *  PostgreSQL in one transaction, then tell Redis account by account. An account with
   *  more waiting than a batch is due again at once (the next pass starts right away), so
   *  a backlog goes batch after batch without holding up the other accounts. Exposed for
   *  tests. */
  async pass(): Promise<void> {
    if (this.hooks.ready && !this.hooks.ready()) return;
    if (this.sweepWanted) await this.sweep();
    const now = Date.now();
    const accounts = await this.queue.claim(now, this.opts.leaseMs, this.opts.accountsPerPass);
    const score = leaseScore(now, this.opts.leaseMs);
    // One batch's worth of entries a pass, in one statement: the accounts are read in turn
    // until it is full, and those it leaves out are due again at once.
    const batches: Batch[] = [];
    let room = this.opts.entriesPerBatch;
    let left = false;
    for (const accountId of accounts) {
      if (room <= 0) {
        await this.queue.queue(accountId, Date.now()).catch(() => {}); // its lease ends otherwise
        left = true;
        continue;
      }
      const b = await this.read(accountId, room);
      if (!b) continue;
      batches.push(b);
      room -= b.source.length;
    }
    // Should PostgreSQL refuse the statement (not be away), each account's batch is
    // written alone, so that one account's batch holds up no other; should it be away,
    // all wait for it.
    const writing = batches.filter((b) => b.source.length > 0);
    if (writing.length > 0) {
      try {
        this.count(await this.books.write(writing));
      } catch (err) {
        // Alone, a batch that failed alone would fail again.
        const alone = writing.length > 1 && !isBooksAway(err);
        for (const b of writing) b.state = alone ? 'alone' : 'failed';
        if (alone) this.log.warn('archive: batches not written together; each account alone', { err });
        else await Promise.all(writing.map((b) => this.retry(b.accountId, err)));
      }
    }
    await Promise.all(batches.map((b) => this.finish(b, score)));
    const backlog = await this.queue.backlog(Date.now());
    this.pendingAccounts = backlog.accounts;
    this.lagSeconds = backlog.oldestMs === null ? 0 : Math.max(0, (Date.now() - backlog.oldestMs) / 1000);
    // More due than one pass takes: go again at once; else when the next account comes due
    // (queued by any instance), not a poll later.
    if (left || accounts.length === this.opts.accountsPerPass) this.job.wake();
    else if (backlog.nextDueMs !== null) this.wakeAt(backlog.nextDueMs);
  }

  /** The account's next entries (at most `max`), as the books take them; null (and due
   *  again shortly) when Redis could not be read. */
  private async read(accountId: string, max: number): Promise<Batch | null> {
    try {
      const batch = await this.queue.unarchived(accountId, max);
      const calls: ArchivedCall[] = [];
      for (const e of batch.entries) {
        if (e.fields.kind !== 'call_debit') continue;
        const call = archivedCall(e, batch.calls.get(e.fields.ref ?? ''));
        if (call) calls.push(call);
        else this.log.warn('archive: a call_debit without its settled call record', { accountId, entryId: e.id, callSid: e.fields.ref });
      }
      return { accountId, source: batch.entries, entries: batch.entries.map(archivedEntry), calls, state: 'pending' };
    } catch (err) {
      await this.retry(accountId, err);
      return null;
    }
  }

  /** After the pass's writes (a batch refused with others is written alone now), Redis
   *  hears what is archived, and the account is let go or queued again. */
  private async finish(b: Batch, score: number): Promise<void> {
    if (b.state === 'failed') return; // queued again already
    try {
      if (b.state === 'alone') this.count(await this.books.write([b]));
      const last = b.source.length > 0 ? b.source[b.source.length - 1]!.id : '0-0';
      if (b.source.length > 0) {
        const committed = Date.now();
        for (const e of b.source) this.hooks.onLag?.(Math.max(0, (committed - Number(e.id.split('-')[0])) / 1000));
        // In the books now: each call's record leaves Redis CALL_REDIS_RETENTION_SECONDS after it settled.
        const now = (this.hooks.clock ?? Date.now)();
        await this.queue.callsArchived(b.accountId, b.calls.map((c) => ({ callSid: c.callSid, keepMs: c.settledAt + this.opts.callRetentionMs - now })));
      }
      // With nothing new: a trim that came due, or a mark with nothing after it.
      const r = await this.queue.done(b.accountId, last, Date.now() - this.opts.ledgerWindowMs);
      if (r.result === 'all_archived') {
        // All archived: let the account go, or keep it queued for when its oldest entry in
        // Redis leaves the window (the trim of an account that went quiet).
        await this.queue.release(b.accountId, score, r.oldestMs === null ? null : r.oldestMs + this.opts.ledgerWindowMs + 1);
      } else if (r.result === 'no_account') {
        await this.queue.release(b.accountId, score);
      } else {
        // More than a batch waits: due again at once.
        await this.queue.queue(b.accountId, Date.now());
        this.job.wake();
      }
    } catch (err) {
      await this.retry(b.accountId, err);
    }
  }

  /** PostgreSQL or Redis away: the account is due again in a moment (not only when the
   *  lease ends), so the archive catches up within seconds of their return. */
  private async retry(accountId: string, err: unknown): Promise<void> {
    this.log.warn('archive: account not archived this time', { err, accountId });
    await this.queue.queue(accountId, Date.now() + this.opts.retryMs).catch(() => {});
  }

  private count(written: { entries: number; calls: number }): void {
    this.archived.entries += written.entries;
    this.archived.calls += written.calls;
  }
}
