// Delivers low-balance alerts: an e-mail to the account's staff (through SMTP_URL) and,
// when ALERT_WEBHOOK_URL is set, the signed webhook — each retried with backoff until it
// succeeds (at least once). The pool scripts announce every alert they raise on the global
// "<prefix>:alerts" channel; each instance listens there and puts the alert in the due-set,
// from which one instance at a time claims it with a lease (as receipts are sent).
//
// An alert announced while no instance's subscriber is connected is not lost: each instance
// sweeps the accounts' kept alerts when it starts and whenever its subscriber reconnects,
// and queues what is not queued yet.
import { PeriodicJob } from './periodic.js';
import type { MailTransport } from './receipt-mailer.js';
import type { Logger } from '../log.js';
import type { AlertAnnouncements, AlertStore, StoredAlert } from '../redis/alert-store.js';
import { renderAlertEmail } from '../alerts/alert-email.js';
import { postWebhook } from '../alerts/alert-webhook.js';

export interface AlertDispatcherDeps {
  store: AlertStore;
  /** The alerts the pool scripts announce (on a dedicated subscriber connection). */
  announcements: Pick<AlertAnnouncements, 'listen' | 'close' | 'onReconnect'>;
  /** Staff e-mail addresses and the account's name. */
  recipients(accountId: string): Promise<{ name: string; emails: string[] }>;
  transport: MailTransport | null;
  from: string;
  webhook: { url: string; secret: string } | null;
  clock: () => number;
  log: Logger;
  intervalMs?: number;
  leaseMs?: number;
}

/** Next try after a failure: a quarter of the alert's age, between 5 s and 15 minutes. */
export function alertRetryDelayMs(ageMs: number): number {
  return Math.min(15 * 60_000, Math.max(5_000, Math.floor(ageMs / 4)));
}

export class AlertDispatcher {
  private readonly job: PeriodicJob;
  /** Delivered by this instance (for tests and metrics). */
  delivered = { email: 0, webhook: 0, failed: 0 };

  constructor(private readonly d: AlertDispatcherDeps) {
    this.job = new PeriodicJob('alert dispatcher', d.intervalMs ?? 1000, () => this.runDue(), d.log);
  }

  async start(): Promise<void> {
    await this.d.announcements.listen((accountId, alertId) => {
      this.d.store
        .hint(accountId, alertId, this.d.clock())
        .then(() => this.job.wake())
        .catch((err: unknown) => this.d.log.warn('alert not queued', { err, accountId, alertId }));
    });
    this.d.announcements.onReconnect(() => void this.sweep());
    this.job.start();
    void this.sweep();
  }

  /** Queues every kept alert that is not queued (announced while nobody listened). Reads
   *  every account's pool hash once: run at start-up and after a reconnection only. */
  async sweep(): Promise<number> {
    let queued = 0;
    try {
      for await (const a of this.d.store.undelivered()) {
        if (await this.d.store.hintIfAbsent(a.accountId, a.alertId, this.d.clock())) queued += 1;
      }
      if (queued > 0) {
        this.d.log.info('alerts found unqueued and queued', { queued });
        this.job.wake();
      }
    } catch (err) {
      this.d.log.warn('alert sweep failed; the next start or reconnection sweeps again', { err });
    }
    return queued;
  }

  async stop(): Promise<void> {
    await this.job.stop();
    this.d.announcements.close();
  }

  async runDue(): Promise<void> {
    const batch = 50;
    for (;;) {
      const due = await this.d.store.claimDue(this.d.clock(), this.d.leaseMs ?? 120_000, batch);
      for (const member of due) await this.deliver(member);
      if (due.length < batch) return;
    }
  }

  private async deliver(member: string): Promise<void> {
    const [accountId, alertId] = member.split(' ');
    const alert = accountId && alertId ? await this.d.store.alert(accountId, alertId) : null;
    if (!alert) {
      await this.d.store.dropHint(member);
      return;
    }
    let done = false;
    let failed = false;
    if (alert.email) {
      const r = await this.tryWay(alert, 'email', () => this.sendEmail(alert));
      failed ||= !r.ok;
      done = r.done;
    }
    if (alert.webhook) {
      const r = await this.tryWay(alert, 'webhook', () => this.sendWebhook(alert));
      failed ||= !r.ok;
      done = r.done;
    }
    if (failed && !done) {
      const now = this.d.clock();
      await this.d.store.hint(alert.accountId, alert.id, now + alertRetryDelayMs(now - alert.at));
    } else {
      await this.d.store.dropHint(member);
    }
  }

  /** ok: this way is done (sent, or not wanted here); done: nothing of the alert is left. */
  private async tryWay(alert: StoredAlert, way: 'email' | 'webhook', send: () => Promise<boolean>): Promise<{ ok: boolean; done: boolean }> {
    try {
      const sent = await send();
      if (sent) this.delivered[way] += 1;
      return { ok: true, done: await this.d.store.delivered(alert.accountId, alert.id, way) };
    } catch (err) {
      this.delivered.failed += 1;
      this.d.log.warn(`alert ${way} not delivered; retried later`, { err, accountId: alert.accountId, alertId: alert.id });
      return { ok: false, done: false };
    }
  }

  private async sendEmail(alert: StoredAlert): Promise<boolean> {
    if (!this.d.transport) return false; // no SMTP_URL here: not sent (documented)
    const who = await this.d.recipients(alert.accountId);
    if (who.emails.length === 0) return false;
    const mail = renderAlertEmail(alert, who.name);
    await this.d.transport.sendMail({ from: this.d.from, to: who.emails.join(', '), ...mail });
    return true;
  }

  private async sendWebhook(alert: StoredAlert): Promise<boolean> {
    if (!this.d.webhook) return false; // no ALERT_WEBHOOK_URL: nothing to send
    await postWebhook(
      this.d.webhook.url,
      this.d.webhook.secret,
      {
        type: alert.level === 'exhausted' ? 'balance.exhausted' : 'balance.low',
        id: alert.id,
        accountId: alert.accountId,
        available: alert.available,
        threshold: alert.threshold,
        cycleStart: new Date(alert.cycleStart).toISOString(),
        at: new Date(alert.at).toISOString(),
      },
      this.d.clock(),
    );
    return true;
  }
}
