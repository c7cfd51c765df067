// The periodic audit (R20, issue #18 §2): every instance looks now and then whether the
// audit is due; the one that takes the lease (redis/audit-lease.ts, held for the whole
// interval and left to expire) audits the last AUDIT_LOOKBACK_SECONDS, so across every
// instance it runs once per AUDIT_INTERVAL_SECONDS. A run that fails (Twilio or PostgreSQL
// away) lets the lease go, so the next look, on any instance, tries again. What it found
// is counted for /metrics (minutegate_audit_calls_total{result}).
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { AuditLease } from '../redis/audit-lease.js';
import type { Audit, AuditReport } from '../recovery/audit.js';
import { PeriodicJob } from './periodic.js';

export interface PeriodicAuditOptions {
  intervalMs: number;
  lookbackMs: number;
}

/** How often an instance looks whether the audit is due: often enough that the fleet
 *  runs it close to its interval, never more than once a minute. */
const lookEvery = (intervalMs: number) => Math.min(60_000, Math.max(1000, intervalMs / 4));

export class PeriodicAudit {
  private readonly job: PeriodicJob;
  private readonly owner = `audit-${randomBytes(6).toString('hex')}`;
  private firstLook: NodeJS.Timeout | null = null;
  /** What this instance's runs found (for /metrics). */
  readonly totals = { matched: 0, settled: 0, mismatched: 0, unmapped: 0 };
  readonly runs = { ok: 0, failed: 0 };

  constructor(
    /** The audit itself: any window, no lease (tests; the command line builds its own). */
    readonly audit: Audit,
    private readonly lease: AuditLease,
    private readonly opts: PeriodicAuditOptions,
    /** The audit needs the books (see recovery/audit.ts): no run while they are not open. */
    private readonly booksReady: () => boolean,
    private readonly clock: () => number,
    private readonly log: Logger,
  ) {
    this.job = new PeriodicJob('audit', lookEvery(opts.intervalMs), async () => void (await this.tick()), log);
  }

  /** The first look one look-period after start-up, not at once: a fleet restarting does
   *  not all look at the same moment, and start-up has other work. */
  start(): void {
    this.firstLook = setTimeout(() => this.job.start(), lookEvery(this.opts.intervalMs));
    this.firstLook.unref();
  }

  async stop(): Promise<void> {
    if (this.firstLook) clearTimeout(this.firstLook);
    await this.job.stop();
  }

  /** Runs the audit if this instance takes the lease; null when it did not (another holds
   *  it, or the books are not open). */
  async tick(): Promise<AuditReport | null> {
    if (!this.booksReady()) return null;
    if (!(await this.lease.take(this.owner, this.opts.intervalMs))) return null;
    const now = this.clock();
    try {
      const report = await this.audit.run(now - this.opts.lookbackMs, now);
      for (const k of ['matched', 'settled', 'mismatched', 'unmapped'] as const) this.totals[k] += report[k];
      this.runs.ok += 1;
      return report;
    } catch (err) {
      this.runs.failed += 1;
      this.log.warn('periodic audit failed; another instance may try at its next look', { err });
      await this.lease.release(this.owner).catch(() => {});
      return null;
    }
  }
}
