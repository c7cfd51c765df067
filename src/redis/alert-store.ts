// Low-balance alerts in Redis: an account's settings (set-alerts-4.lua), the alerts the
// pool scripts raised and keep until delivered (pool field "alertbox:<id>",
// alert-delivered-1.lua), and the global due-set of deliveries (claimed with a lease by
// claim-due-1.lua, like receipts), and the global channel the scripts announce them on.
import type { Cluster, Redis } from 'ioredis';
import { alertConfigJson, type AlertSettings, type StoredAlert } from '../domain/alert-records.js';
import { alertGlobalKeys } from './keys.js';
import { accountPages } from './account-pages.js';
import type { PoolStore } from './pool-store.js';
import type { ScriptRunner } from './scripts.js';
import { outcome } from './script-codes.js';

export type { AlertSettings, StoredAlert };

export class AlertStore {
  readonly dueKey: string;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly scripts: ScriptRunner,
    private readonly pool: PoolStore,
    private readonly prefix: string,
  ) {
    this.dueKey = alertGlobalKeys(prefix).due;
  }

  /** The account's settings, or the default (10% of the plan, and 0, decided in
   *  lua/lib/alerts.lua only); null: no such account. */
  async settings(accountId: string, now: number): Promise<AlertSettings | null> {
    const reply = await this.pool.runPool('read-alerts', accountId, [], [], now);
    if (!reply) return null;
    const c = JSON.parse(String(reply[1])) as { t: number[]; e: number; w: number };
    return { thresholdsMinutes: c.t, email: c.e === 1, webhook: c.w === 1 };
  }

  /** False: no such account (the script wrote nothing). */
  async setSettings(accountId: string, s: AlertSettings, now: number): Promise<boolean> {
    return (await this.pool.runPool('set-alerts', accountId, [], [alertConfigJson(s)], now)) !== null;
  }

  async alert(accountId: string, alertId: string): Promise<StoredAlert | null> {
    const raw = await this.redis.hget(this.pool.keys(accountId).pool, `alertbox:${alertId}`);
    return raw ? (JSON.parse(raw) as StoredAlert) : null;
  }

  /** One way of delivering is done; true when nothing is left to deliver. */
  async delivered(accountId: string, alertId: string, way: 'email' | 'webhook'): Promise<boolean> {
    const reply = await this.scripts.run('alert-delivered', [this.pool.keys(accountId).pool], [alertId, way]);
    return outcome('alert-delivered', reply) !== 'pending';
  }

  async hint(accountId: string, alertId: string, at: number): Promise<void> {
    await this.redis.zadd(this.dueKey, at, `${accountId} ${alertId}`);
  }

  async claimDue(now: number, leaseMs: number, max: number): Promise<string[]> {
    return (await this.scripts.run('claim-due', [this.dueKey], [now, leaseMs, max])).map(String);
  }

  async dropHint(member: string): Promise<void> {
    await this.redis.zrem(this.dueKey, member);
  }

  /** Queues the alert unless it is queued already (its retry time is kept). */
  async hintIfAbsent(accountId: string, alertId: string, at: number): Promise<boolean> {
    return (await this.redis.zadd(this.dueKey, 'NX', at, `${accountId} ${alertId}`)) === 1;
  }

  /** Every alert still kept in any account's pool ("alertbox:<id>" fields), page by page:
   *  the accounts from the cycle schedule (it holds every account), their alerts by HSCAN.
   *  Reads only; for the sweep that finds alerts whose announcement nobody heard. */
  async *undelivered(): AsyncGenerator<{ accountId: string; alertId: string }> {
    for await (const page of accountPages(this.redis, this.prefix, 200)) {
      for (const accountId of page) {
        let at = '0';
        do {
          const [n, fields] = await this.redis.hscan(this.pool.keys(accountId).pool, at, 'MATCH', 'alertbox:*', 'COUNT', 100);
          at = n;
          for (let j = 0; j < fields.length; j += 2) yield { accountId, alertId: fields[j]!.slice('alertbox:'.length) };
        } while (at !== '0');
      }
    }
  }

}

/** The alerts the pool scripts announce on "<prefix>:alerts", heard on a dedicated
 *  connection (it enters subscriber mode). */
export class AlertAnnouncements {
  private readonly channel: string;

  constructor(
    private readonly subscriber: Redis | Cluster,
    prefix: string,
  ) {
    this.channel = alertGlobalKeys(prefix).announcements;
  }

  /** Calls `fn` whenever the subscriber is ready again after a reconnection (whatever
   *  was announced meanwhile was missed). The subscriber is connected before this is
   *  called, so every 'ready' heard here is a reconnection. */
  onReconnect(fn: () => void): void {
    this.subscriber.on('ready', fn);
  }

  /** Calls `fn` with each announced alert ("accountId alertId" members). */
  async listen(fn: (accountId: string, alertId: string) => void): Promise<void> {
    this.subscriber.on('message', (channel: string, member: string) => {
      if (channel !== this.channel) return;
      const [accountId, alertId] = member.split(' ');
      if (!accountId || !alertId) return;
      fn(accountId, alertId);
    });
    await this.subscriber.subscribe(this.channel);
  }

  close(): void {
    this.subscriber.disconnect();
  }
}
