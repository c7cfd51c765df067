// The books (R19): the PostgreSQL connection of one instance, opened at start-up — the
// database created outside production when it is missing, the migrations applied — and
// retried in the background while PostgreSQL is away, so the gateway starts and meters
// calls without it (metering never waits for PostgreSQL; only the writes that must be
// committed first are refused meanwhile).
import type { Logger } from '../log.js';
import { ArchiveStore } from './archive-store.js';
import { createDb, ensureDatabase, redactDbUrl, type Db } from './connect.js';
import { migrate } from './migrate.js';
import { Partitions } from './partitions.js';
import { RefusalStore } from './refusal-store.js';

export interface BooksOptions {
  url: string;
  /** Create the database when it does not exist (development; production creates its own). */
  createDatabase: boolean;
  /** Retry interval while PostgreSQL cannot be reached at start-up. */
  retryMs?: number;
}

export class Books {
  readonly db: Db;
  readonly archive: ArchiveStore;
  /** Calls refused at placement (their history, written by history/refusal-log.ts). */
  readonly refusals: RefusalStore;
  /** The archive's monthly partitions: one cache of which exist, shared by writers and retention. */
  readonly partitions: Partitions;
  private opened = false;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;
  private attempts = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(
    private readonly opts: BooksOptions,
    private readonly log: Logger,
  ) {
    this.db = createDb(opts.url);
    this.partitions = new Partitions(this.db);
    this.archive = new ArchiveStore(this.db, this.partitions);
    this.refusals = new RefusalStore(this.db, this.partitions);
  }

  /** True once the schema is in place (the database may still go away later). */
  get ready(): boolean {
    return this.opened;
  }

  /** Tries once; on failure logs one line and keeps trying in the background. */
  async open(): Promise<boolean> {
    try {
      if (this.opts.createDatabase && (await ensureDatabase(this.opts.url))) {
        this.log.info('created the PostgreSQL database', { database: redactDbUrl(this.opts.url) });
      }
      const applied = await migrate(this.db);
      if (applied.length > 0) this.log.info('applied PostgreSQL migrations', { applied });
      this.opened = true;
      this.attempts = 0;
      for (const w of this.waiters.splice(0)) w();
      return true;
    } catch (err) {
      if (this.closed) return false;
      // Soon at first (two instances creating one database race for a moment), then every retryMs.
      const delay = Math.min(this.opts.retryMs ?? 2000, 250 * 2 ** this.attempts++);
      if (this.attempts === 1 || delay >= (this.opts.retryMs ?? 2000)) this.log.warn('PostgreSQL is not available yet: writes that must be committed first answer 503 until it is; metering goes on', {
        database: redactDbUrl(this.opts.url),
        err,
      });
      this.retry = setTimeout(() => {
        this.retry = null;
        void this.open();
      }, delay);
      this.retry.unref();
      return false;
    }
  }

  /** Resolves once open (tests, the archiver's first pass). */
  whenOpen(): Promise<void> {
    return this.opened ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }

  /** Whether PostgreSQL answers now (for /readyz, reported, never deciding readiness). */
  async ping(): Promise<boolean> {
    if (!this.opened) return false;
    try {
      await this.db.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    await this.db.end().catch(() => {});
  }
}
