// Archived history is kept HISTORY_RETENTION_MONTHS (this month included) and dropped a
// month at a time: whole partitions, never row by row (issue #17 §5). Any instance may run
// it; dropping a partition already gone is nothing.
import type { Logger } from '../log.js';
import type { Books } from '../postgres/books.js';
import { PeriodicJob } from './periodic.js';

export class HistoryRetention {
  private readonly job: PeriodicJob;

  constructor(
    private readonly books: Books,
    private readonly months: number,
    private readonly clock: () => number,
    private readonly log: Logger,
    intervalMs = 6 * 3600_000,
  ) {
    this.job = new PeriodicJob('history retention', intervalMs, async () => void (await this.pass()), log);
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  async pass(): Promise<string[]> {
    if (!this.books.ready) return [];
    const dropped = await this.books.partitions.dropOlderThan(this.months, this.clock());
    if (dropped.length > 0) this.log.info('dropped archived history past its retention', { partitions: dropped });
    return dropped;
  }
}
