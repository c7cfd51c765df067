// Writes an account rebuilt from the books back into Redis (R20, `npm run restore`): the
// global keys first — the cycle schedule, the directory's claims of its identities and
// numbers, the markers of removed identities still held — as account creation does (a
// crash in between leaves claims that point at an account not live yet: calls are refused,
// fail closed, and the next restore finishes the job); then every key of the account in
// one script (restore-account-9.lua), which refuses when the pool exists; then the
// Idempotency-Keys of recent purchases (one key each, not known to the script's key list).
import type { Cluster, Redis } from 'ioredis';
import type { RebuiltAccount } from '../recovery/rebuild.js';
import { accountKeys, billingGlobalKeys, billingKeys, directoryKeys } from './keys.js';
import { DirectoryStore } from './directory-store.js';
import { ArchiveQueue } from './archive-queue.js';
import { outcome } from './script-codes.js';
import type { ScriptRunner } from './scripts.js';

export interface RestoreOutcome {
  restored: boolean;
  /** Directory names another owner holds (the account's own calls to them stay refused). */
  conflicts: string[];
}

const str = (n: number) => String(n);

/** The ledger stream's fields of an entry: the base ones, then the rest (as lib/ledger.lua). */
function entryFields(e: { kind: string; minutes: number; balanceAfter: number; ref: string; at: number; extra: Record<string, string> }): string[] {
  return ['kind', e.kind, 'minutes', str(e.minutes), 'balanceAfter', str(e.balanceAfter), 'ref', e.ref, 'at', str(e.at), ...Object.entries(e.extra).flat()];
}

/** The pool hash as the scripts read it (lua/lib/pool.lua, cycles.lua, alerts.lua, adjust-4.lua). */
function poolFields(a: RebuiltAccount, now: number): string[] {
  const p = a.pool;
  const f: string[] = [
    'accountId', a.accountId,
    'anchor', str(a.anchor),
    'inboundPolicy', a.inboundPolicy,
    'balance', str(p.balance),
    'reserved', '0',
    'active', '0',
    'plan', str(p.plan),
    'addon', str(p.addon),
    'monthly', str(p.plan + p.addon),
    'cycleIndex', str(p.cycle.index),
    'cycleStart', str(p.cycle.start),
    'cycleEnd', str(p.cycle.end),
    'used', str(p.used),
    'overage', str(p.overage),
    'version', str(p.version),
    // Alert ids are "al_<cycleStart>_<seq>": a fresh start, so no id raised before the loss
    // is raised again for another alert.
    'alertSeq', str(now),
  ];
  if (p.pendingPlan !== null) f.push('pendingPlan', str(p.pendingPlan));
  if (p.addonEnding !== null) f.push('addonEnding', str(p.addonEnding));
  if (p.adjustSeq !== null) f.push('adjustSeq', str(p.adjustSeq));
  if (p.alertCfg !== null) f.push('alertCfg', p.alertCfg);
  if (p.alertsFired !== null) f.push('alertsFired', p.alertsFired);
  for (const c of a.closedCycles) f.push(`cycle:${c.start}`, `${c.end}:${c.left}:${c.used}:${c.overage}`);
  return f;
}

export class RestoreStore {
  private readonly directory: DirectoryStore;
  private readonly archive: ArchiveQueue;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly scripts: ScriptRunner,
    private readonly prefix: string,
  ) {
    this.directory = new DirectoryStore(redis, scripts, prefix);
    this.archive = new ArchiveQueue(redis, scripts, prefix);
  }

  /** Whether the account's pool is in Redis (its live state was not lost). */
  async isLive(accountId: string): Promise<boolean> {
    return (await this.redis.exists(accountKeys(this.prefix, accountId).pool)) === 1;
  }

  async restore(a: RebuiltAccount, now: number): Promise<RestoreOutcome> {
    const id = a.accountId;
    const k = accountKeys(this.prefix, id);
    const b = billingKeys(this.prefix, id);
    const dir = directoryKeys(this.prefix);
    const conflicts: string[] = [];

    // Scheduled before the pool exists, as createAccount does; NX keeps a live entry.
    await this.redis.zadd(billingGlobalKeys(this.prefix).cycleDue, 'NX', a.pool.cycle.end, id);
    for (const r of a.removedIdentities) {
      const ms = r.heldUntil - now;
      if (ms > 0) await this.redis.set(dir.removedIdentity(r.identity), id, 'PX', ms, 'NX');
    }
    for (const s of a.staff) {
      const c = await this.directory.claimIdentity(s.identity, `${id} ${s.id}`, id);
      if (c.outcome !== 'claimed' && c.outcome !== 'own') conflicts.push(`identity ${s.identity}`);
    }
    for (const n of a.numbers) {
      if (!(await this.directory.claim('number', n, id)) && (await this.directory.owner('number', n)) !== id) conflicts.push(`number ${n}`);
    }

    const body = {
      accountId: id,
      pool: poolFields(a, now),
      profile: ['id', id, 'name', a.name, 'createdAt', str(a.createdAt)],
      staff: a.staff.flatMap((s) => [s.id, JSON.stringify(s)]),
      numbers: a.numbers,
      tokenGen: a.tokenGenerations.flatMap((g) => [g.staffId, str(g.generation), ...(g.watermark === null ? [] : [`w:${g.staffId}`, str(g.watermark)])]),
      cards: a.cards.flatMap((c) => [c.id, JSON.stringify(c)]),
      purchases: a.purchases.flatMap((p) => [p.purchaseId, JSON.stringify(p)]),
      charges: a.charges.flatMap((c) => [str(c.at), JSON.stringify(c)]),
      ...(a.tail ? { tail: { id: a.tail.id, fields: entryFields(a.tail) } } : {}),
      entries: a.newEntries.map(entryFields),
    };
    const reply = await this.scripts.run(
      'restore-account',
      [k.pool, k.ledger, k.profile, k.staff, k.numbers, k.tokenGen, b.paymentMethods, b.purchases, b.charges],
      [now, k.events, JSON.stringify(body)],
    );
    if (outcome('restore-account', reply) !== 'restored') return { restored: false, conflicts };

    for (const i of a.idempotency) {
      const ms = i.expiresAt - now;
      if (ms > 0) await this.redis.set(b.idempotency(i.keyDigest), JSON.stringify({ fp: i.fingerprint, purchase: i.purchase }), 'PX', ms, 'NX');
    }
    // The entries the archive lacked: queued at once, whoever heard the announcement.
    if (a.newEntries.length > 0) await this.archive.queue(id, now);
    return { restored: true, conflicts };
  }
}
