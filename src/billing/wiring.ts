// Builds billing's parts for buildApp: the use cases, and this instance's background jobs
// (the cycle-reset scheduler always; the receipt mailer when SMTP_URL is set — without it
// receipts stay queued in Redis and go out once an instance with SMTP_URL runs).
import type { Cluster, Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Accounts } from '../metering/accounts.js';
import type { PoolStore } from '../redis/pool-store.js';
import type { ScriptRunner } from '../redis/scripts.js';
import { Billing, DEFAULT_BILLING_OPTIONS } from './billing.js';
import { BillingStore } from './billing-store.js';
import { CycleScheduler } from '../jobs/cycle-scheduler.js';
import { ReceiptMailer, smtpTransport } from '../jobs/receipt-mailer.js';

export function buildBilling(deps: {
  config: Config;
  redis: Redis | Cluster;
  scripts: ScriptRunner;
  store: PoolStore;
  accounts: Accounts;
  log: Logger;
  clock: () => number;
}) {
  const { config, log, clock } = deps;
  const billingStore = new BillingStore(deps.redis, deps.scripts, deps.store, config.redis.prefix);
  const scheduler = new CycleScheduler(billingStore, deps.store, clock, log);
  const mailer = config.smtpUrl
    ? new ReceiptMailer(billingStore, smtpTransport(config.smtpUrl), config.receiptFrom, clock, log)
    : null;
  const billing = new Billing(
    billingStore,
    deps.accounts,
    {
      ...DEFAULT_BILLING_OPTIONS,
      bundlePriceCents: config.bundlePriceCents,
      currency: config.currency,
      overagePriceCentsPerMinute: config.overagePriceCentsPerMinute,
    },
    clock,
    log,
    () => mailer?.wake(),
  );
  let started = false;
  return {
    billing,
    billingStore,
    scheduler,
    mailer,
    start(): void {
      if (started) return;
      started = true;
      scheduler.start();
      if (mailer) mailer.start();
      else log.info('SMTP_URL is not set: purchase receipts stay queued until an instance with SMTP_URL runs');
    },
    async stop(): Promise<void> {
      if (!started) return;
      started = false;
      await Promise.all([scheduler.stop(), mailer?.stop()]);
    },
  };
}
