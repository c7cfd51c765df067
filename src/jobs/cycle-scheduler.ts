// R8, proactively: applies each account's cycle reset within about a second of its
// instant, so dashboards see the new allowance without waiting for a call. Every instance
// runs one; they share the work through the global schedule `cycleDue` (accountId by the
// end of its current cycle), handed out with a lease by claim-due-1.lua, so each due
// account is taken by one instance at a time and one that dies mid-way is retried.
//
// The reset itself is read-pool's lazy reset (lua/lib/cycles.lua), which runs exactly once
// per cycle however many instances, calls and schedulers find it due, and publishes the
// new snapshot. The schedule is only a hint of when to look: a reset someone else applied
// first costs one idle read.
import type { Logger } from '../log.js';
import type { PoolStore } from '../redis/pool-store.js';
import type { PurchaseStore } from '../redis/purchase-store.js';
import { PeriodicJob } from './periodic.js';

export interface CycleSchedulerOptions {
  /** How often each instance looks for due resets (real time). */
  intervalMs: number;
  /** How long a claimed account is this instance's before another may take it. */
  leaseMs: number;
  /** Most accounts taken per pass. */
  batch: number;
}

export const DEFAULT_CYCLE_SCHEDULER: CycleSchedulerOptions = { intervalMs: 250, leaseMs: 30_000, batch: 200 };

export class CycleScheduler {
  private readonly job: PeriodicJob;

  constructor(
    private readonly purchases: PurchaseStore,
    private readonly pool: PoolStore,
    private readonly clock: () => number,
    private readonly log: Logger,
    private readonly opts: CycleSchedulerOptions = DEFAULT_CYCLE_SCHEDULER,
  ) {
    this.job = new PeriodicJob('cycle scheduler', opts.intervalMs, async () => {
      await this.runDue();
    }, log);
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** One pass: resets every account whose cycle has ended, and schedules its next end. */
  async runDue(): Promise<number> {
    let done = 0;
    for (;;) {
      const now = this.clock();
      const due = await this.purchases.claimDue('cycleDue', now, this.opts.leaseMs, this.opts.batch);
      // Many accounts share an instant (anchors on the 1st at midnight): the batch goes
      // out at once, all in flight together, rather than one round trip after another.
      const results = await Promise.all(due.map((accountId) => this.resetOne(accountId, now)));
      done += results.filter(Boolean).length;
      if (due.length < this.opts.batch) return done;
    }
  }

  private async resetOne(accountId: string, now: number): Promise<boolean> {
    try {
      const snap = await this.pool.readPool(accountId, now);
      if (!snap) {
        // A schedule entry written for an account whose creation then failed.
        await this.purchases.unscheduleCycle(accountId).catch(() => {});
        return false;
      }
      await this.purchases.scheduleCycleEnd(accountId, snap.cycleEnd);
      return true;
    } catch (err) {
      this.log.warn('cycle reset failed; retried when its lease ends', { accountId, err });
      return false;
    }
  }
}
