// Calls refused at placement (no minutes, a destination not allowed), kept for the history
// (issue #20: the app shows them as not connected, and why). The voice webhook only hands
// one over (record: in memory, no I/O); every second they go to PostgreSQL in one batch.
// While PostgreSQL is away they wait, up to MAX_WAITING (then the oldest are dropped and
// counted in the log): a refusal is information, not money, and metering never waits for
// the books.
import { PeriodicJob } from '../jobs/periodic.js';
import type { Logger } from '../log.js';
import type { RefusalStore, RefusedCall } from '../postgres/refusal-store.js';

const MAX_WAITING = 10_000;

export class RefusalLog {
  private waiting: RefusedCall[] = [];
  private dropped = 0;
  private readonly job: PeriodicJob;

  constructor(
    private readonly store: RefusalStore,
    private readonly ready: () => boolean,
    private readonly log: Logger,
    intervalMs = 1000,
  ) {
    this.job = new PeriodicJob('refused calls', intervalMs, () => this.flush(), log);
  }

  record(call: RefusedCall): void {
    this.waiting.push(call);
    if (this.waiting.length > MAX_WAITING) {
      this.waiting.shift();
      this.dropped++;
    }
  }

  start(): void {
    this.job.start();
  }

  /** Stops the job and writes what waits (best effort: PostgreSQL may be away). */
  async stop(): Promise<void> {
    await this.job.stop();
    await this.flush().catch((err: unknown) => this.log.warn('refused calls not written at stop', { err, waiting: this.waiting.length }));
  }

  async flush(): Promise<void> {
    if (this.dropped > 0) {
      this.log.warn('refused calls dropped while the books were away', { dropped: this.dropped });
      this.dropped = 0;
    }
    if (this.waiting.length === 0 || !this.ready()) return;
    const batch = this.waiting;
    this.waiting = [];
    try {
      await this.store.write(batch);
    } catch (err) {
      // Back in front of what came meanwhile; tried again at the next pass.
      this.waiting = batch.concat(this.waiting).slice(-MAX_WAITING);
      throw err;
    }
  }
}
