// What customers and operators set up or pay for is committed to PostgreSQL before it is
// acknowledged (R19, issue #17 §2). Each use case registers its kinds of write with the
// function that applies one to the live pool in Redis (its scripts, and whatever else in
// Redis goes with it); `run` commits the write to the journal, then — holding the
// account's advisory lock — applies the account's pending writes in order up to and
// including it, marks each applied with its outcome, and returns its outcome. Applying is
// idempotent by the write's own ids (a crash between Redis and the mark applies it again
// as nothing), and the replayer applies what a dead instance left pending, at start-up and
// every few seconds. While PostgreSQL is away `run` refuses with 503 STORE_UNAVAILABLE
// before anything is applied.
import { AppError } from '../domain/errors.js';
import { isPostgresUnavailable } from '../domain/storage-failure.js';
import type { Logger } from '../log.js';
import type { Books } from '../postgres/books.js';
import type { DbClient } from '../postgres/connect.js';
import { JournalStore, type JournalWrite } from '../postgres/journal-store.js';
import { PeriodicJob } from '../jobs/periodic.js';

/** Applies one write to Redis. `seq` is the write's place in the journal: a script that
 *  is not idempotent by nature (an adjustment, a token revocation) keeps it as a watermark
 *  and applies a write only once. */
export type Apply<P, O> = (accountId: string, payload: P, seq: number) => Promise<O>;

/** 503 STORE_UNAVAILABLE. `committed`: the write reached the books before they went away,
 *  so it will still be applied (by the replayer); otherwise nothing was changed. */
export class BooksUnavailableError extends AppError {
  constructor(readonly committed: boolean) {
    super(
      503,
      'STORE_UNAVAILABLE',
      committed
        ? 'the books (PostgreSQL) went away while this was being applied; it is committed and will be applied shortly'
        : 'the books (PostgreSQL) cannot be reached: nothing was changed; try again (the same Idempotency-Key may be used)',
    );
  }
}

/** True for a refusal that changed nothing: what a use case claimed beforehand goes back. */
export const notCommitted = (err: unknown) => err instanceof BooksUnavailableError && !err.committed;

export class Writes {
  private readonly journal: JournalStore;
  private readonly appliers = new Map<string, Apply<unknown, unknown>>();
  private readonly replayer: PeriodicJob;
  /** Writes applied by the replayer (a dead instance's), for /metrics. */
  replayed = 0;

  constructor(
    private readonly books: Books,
    private readonly log: Logger,
    private readonly opts: { replayAfterMs: number; replayEveryMs: number } = { replayAfterMs: 5000, replayEveryMs: 5000 },
  ) {
    this.journal = new JournalStore(books.db);
    this.replayer = new PeriodicJob('write replay', opts.replayEveryMs, async () => void (await this.replay()), log);
  }

  /** Registers a kind of write; returns the function that commits and applies one. */
  register<P, O>(kind: string, apply: Apply<P, O>): (accountId: string, payload: P) => Promise<O> {
    if (this.appliers.has(kind)) throw new Error(`write kind ${kind} registered twice`);
    this.appliers.set(kind, apply as Apply<unknown, unknown>);
    return (accountId, payload) => this.run(accountId, kind, payload) as Promise<O>;
  }

  private async run(accountId: string, kind: string, payload: unknown): Promise<unknown> {
    if (!this.books.ready) throw new BooksUnavailableError(false);
    let seq: number;
    try {
      seq = await this.journal.commit(accountId, kind, payload);
    } catch (err) {
      if (isPostgresUnavailable(err)) throw new BooksUnavailableError(false);
      throw err;
    }
    // Committed: from here on the write will be applied, by this request or the replayer.
    try {
      return await this.journal.withAccountLock(accountId, async (c) => {
        const mine = await this.applyPending(c, accountId, seq);
        if (mine !== undefined) return mine.outcome;
        // Another instance applied it meanwhile: its outcome is in the journal.
        const w = await this.journal.one(c, seq);
        return w?.outcome;
      });
    } catch (err) {
      if (isPostgresUnavailable(err)) {
        this.log.warn('a committed write could not be applied now: the replayer will apply it', { accountId, kind, seq });
        throw new BooksUnavailableError(true);
      }
      throw err;
    }
  }

  /** Applies the account's pending writes through `throughSeq`, in order; returns the
   *  outcome of `throughSeq` when it was among them. */
  private async applyPending(c: DbClient, accountId: string, throughSeq: number): Promise<{ outcome: unknown } | undefined> {
    let result: { outcome: unknown } | undefined;
    for (const w of await this.journal.pending(c, accountId, throughSeq)) {
      const outcome = await this.applyOne(w);
      await this.journal.markApplied(c, w.seq, outcome);
      if (w.seq === throughSeq) result = { outcome };
    }
    return result;
  }

  private async applyOne(w: JournalWrite): Promise<unknown> {
    const apply = this.appliers.get(w.kind);
    if (!apply) throw new Error(`no applier for write kind ${w.kind} (seq ${w.seq})`);
    return apply(w.accountId, w.payload, w.seq);
  }

  /** Applies every write a dead instance left committed and not applied. */
  async replay(): Promise<number> {
    if (!this.books.ready) return 0;
    let n = 0;
    for (const accountId of await this.journal.accountsWithPending(this.opts.replayAfterMs)) {
      try {
        await this.journal.withAccountLock(accountId, async (c) => {
          for (const w of await this.journal.pending(c, accountId, Number.MAX_SAFE_INTEGER)) {
            const outcome = await this.applyOne(w);
            await this.journal.markApplied(c, w.seq, outcome);
            n++;
          }
        });
      } catch (err) {
        this.log.warn('write replay: account not finished this time', { err, accountId });
      }
    }
    if (n > 0) this.log.info('applied committed writes left pending', { writes: n });
    this.replayed += n;
    return n;
  }

  start(): void {
    this.replayer.start();
  }

  stop(): Promise<void> {
    return this.replayer.stop();
  }
}
