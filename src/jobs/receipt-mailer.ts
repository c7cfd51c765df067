// Delivers purchase receipts by SMTP from the outbox the purchase script writes, so a
// purchase never waits for, or fails because of, the mail server. An outage only delays a
// receipt: failed sends are retried with backoff for as long as it takes; the receipt's
// status (queued → sent) is on the purchase record.
//
// Work is found through the global hint set `receiptsDue` ("accountId purchaseId" by next
// attempt), claimed with a lease (claim-due-1.lua), then the receipt itself is claimed in
// the account's slot (claim-receipt-2.lua), so one instance mails it at a time. A hint is
// removed only once its receipt is sent or gone; a sender that dies leaves both leases to
// run out, and the receipt is mailed again — at least once, never lost.
import nodemailer from 'nodemailer';
import type { Logger } from '../log.js';
import type { PurchaseStore } from '../redis/purchase-store.js';
import { PeriodicJob } from './periodic.js';
import { renderReceipt } from '../purchases/receipt-email.js';

/** What the mailer needs of a transport: nodemailer's, in production and tests alike. */
export interface MailTransport {
  sendMail(message: { from: string; to: string; subject: string; text: string; html: string }): Promise<unknown>;
  close?(): void;
}

export interface ReceiptMailerOptions {
  /** How often each instance looks for receipts to send (real time); a purchase on this
   *  instance wakes it at once. */
  intervalMs: number;
  /** How long a claimed receipt is this instance's: longer than a send can take. */
  leaseMs: number;
  batch: number;
}

export const DEFAULT_RECEIPT_MAILER: ReceiptMailerOptions = { intervalMs: 500, leaseMs: 120_000, batch: 50 };

/** Delay before attempt `attempts + 1`: 5 s, 10 s, 20 s … capped at 15 minutes. */
export function retryDelayMs(failedAttempts: number): number {
  const base = 5_000;
  const cap = 15 * 60_000;
  return Math.min(cap, base * 2 ** Math.max(0, Math.min(20, failedAttempts - 1)));
}

/** An SMTP transport for SMTP_URL (smtp:// or smtps://, credentials in the URL), with
 *  timeouts short enough that an unreachable server fails a send, not the process. */
export function smtpTransport(smtpUrl: string): MailTransport {
  const u = new URL(smtpUrl);
  return nodemailer.createTransport({
    host: u.hostname,
    port: u.port ? Number(u.port) : u.protocol === 'smtps:' ? 465 : 587,
    secure: u.protocol === 'smtps:',
    auth: u.username ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } : undefined,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
}

export class ReceiptMailer {
  private readonly job: PeriodicJob;

  constructor(
    private readonly store: PurchaseStore,
    private readonly transport: MailTransport,
    private readonly from: string,
    private readonly clock: () => number,
    private readonly log: Logger,
    private readonly opts: ReceiptMailerOptions = DEFAULT_RECEIPT_MAILER,
  ) {
    this.job = new PeriodicJob('receipt mailer', opts.intervalMs, () => this.runDue(), log);
  }

  start(): void {
    this.job.start();
  }

  /** A purchase was just made on this instance: look now rather than at the next tick. */
  wake(): void {
    this.job.wake();
  }

  async stop(): Promise<void> {
    await this.job.stop();
    this.transport.close?.();
  }

  async runDue(): Promise<void> {
    for (;;) {
      const due = await this.store.claimDue('receiptsDue', this.clock(), this.opts.leaseMs, this.opts.batch);
      for (const member of due) await this.deliver(member);
      if (due.length < this.opts.batch) return;
    }
  }

  private async deliver(member: string): Promise<void> {
    const [accountId, purchaseId] = member.split(' ');
    if (!accountId || !purchaseId) {
      await this.store.dropReceiptHint(member);
      return;
    }
    const claim = await this.store.claimReceipt(accountId, purchaseId, this.clock(), this.opts.leaseMs);
    if (claim.state === 'none') {
      await this.store.dropReceiptHint(member);
      return;
    }
    if (claim.state === 'later') {
      await this.store.hintReceipt(accountId, purchaseId, claim.dueAt);
      return;
    }
    const p = claim.purchase;
    try {
      const mail = renderReceipt(p);
      await this.transport.sendMail({ from: this.from, to: p.receipt.to, ...mail });
    } catch (err) {
      const attempts = claim.attempts + 1;
      const next = this.clock() + retryDelayMs(attempts);
      const summary = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 200);
      await this.store.receiptFailed(accountId, purchaseId, this.clock(), next, summary);
      await this.store.hintReceipt(accountId, purchaseId, next);
      this.log.warn('receipt not sent; it stays queued and is retried', {
        accountId,
        purchaseId,
        attempts,
        retryAt: new Date(next).toISOString(),
        err,
      });
      return;
    }
    await this.store.receiptSent(accountId, purchaseId, this.clock());
    await this.store.dropReceiptHint(member);
    this.log.info('receipt sent', { accountId, purchaseId });
  }
}
