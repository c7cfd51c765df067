// An account's records as administration reads them: profile, staff, numbers, the
// ledger stream and the calls (sorted sets by start and end, one hash per call). Creating
// an account, adjusting, removing staff and revoking tokens are pool scripts (PoolStore);
// adding a staff member or numbers are scripts of their own (add-staff-2.lua,
// add-numbers-2.lua). Views, caches and paging decisions live in accounts/.
import type { Cluster, Redis } from 'ioredis';
import { accountKeys } from './keys.js';
import { outcome } from './script-codes.js';
import type { ScriptRunner } from './scripts.js';

export interface AccountRecord {
  profile: Record<string, string>;
  /** Staff members as stored (JSON each). */
  staffJson: string[];
  numbers: string[];
  anchor: string | null;
  inboundPolicy: string | null;
}

export class AccountStore {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly scripts: ScriptRunner,
    private readonly prefix: string,
  ) {}

  private keys(accountId: string) {
    return accountKeys(this.prefix, accountId);
  }

  async exists(accountId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys(accountId).pool)) === 1;
  }

  async record(accountId: string): Promise<AccountRecord> {
    const k = this.keys(accountId);
    const [profile, staffJson, numbers, anchorPolicy] = await Promise.all([
      this.redis.hgetall(k.profile),
      this.redis.hvals(k.staff),
      this.redis.smembers(k.numbers),
      this.redis.hmget(k.pool, 'anchor', 'inboundPolicy'),
    ]);
    return { profile, staffJson, numbers, anchor: anchorPolicy[0] ?? null, inboundPolicy: anchorPolicy[1] ?? null };
  }

  async staffMemberJson(accountId: string, staffId: string): Promise<string | null> {
    return this.redis.hget(this.keys(accountId).staff, staffId);
  }

  async staffJson(accountId: string): Promise<string[]> {
    return this.redis.hvals(this.keys(accountId).staff);
  }

  /** Adds the member unless the account has one with this id already (add-staff-2.lua). */
  async addStaffIfAbsent(accountId: string, staffId: string, json: string): Promise<'added' | 'exists' | 'no_account'> {
    const k = this.keys(accountId);
    return outcome('add-staff', await this.scripts.run('add-staff', [k.pool, k.staff], [staffId, json]));
  }

  /** Adds the numbers to the account's set (add-numbers-2.lua). */
  async addNumbers(accountId: string, numbers: string[]): Promise<'done' | 'no_account'> {
    const k = this.keys(accountId);
    return outcome('add-numbers', await this.scripts.run('add-numbers', [k.pool, k.numbers], numbers));
  }

  async numbers(accountId: string): Promise<string[]> {
    return this.redis.smembers(this.keys(accountId).numbers);
  }

  /** Up to `count` ledger entries after the id `after` (exclusive; from the start when
   *  absent), in id order ("asc") or reverse ("desc"). */
  async ledgerEntries(
    accountId: string,
    order: 'asc' | 'desc',
    after: string | undefined,
    count: number,
  ): Promise<{ id: string; fields: Record<string, string> }[]> {
    const key = this.keys(accountId).ledger;
    const rows =
      order === 'asc'
        ? await this.redis.xrange(key, after ? `(${after}` : '-', '+', 'COUNT', count)
        : await this.redis.xrevrange(key, after ? `(${after}` : '+', '-', 'COUNT', count);
    return rows.map(([id, flat]) => {
      const fields: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
      return { id, fields };
    });
  }

  async call(accountId: string, callSid: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys(accountId).call(callSid));
  }

  async callsBySids(accountId: string, callSids: string[]): Promise<Record<string, string>[]> {
    const k = this.keys(accountId);
    return Promise.all(callSids.map((sid) => this.redis.hgetall(k.call(sid))));
  }

  /** Up to `count` calls of the set, newest first, scored at most `maxScore` ("+inf" or ms):
   *  open calls by start, ended ones by end. */
  async callsNewestFirst(
    accountId: string,
    state: 'active' | 'ended',
    maxScore: string,
    count: number,
  ): Promise<{ sid: string; score: number }[]> {
    const k = this.keys(accountId);
    const raw = await this.redis.zrevrangebyscore(state === 'active' ? k.activeCalls : k.endedCalls, maxScore, '-inf', 'WITHSCORES', 'LIMIT', 0, count);
    const out: { sid: string; score: number }[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) out.push({ sid: raw[i]!, score: Number(raw[i + 1]) });
    return out;
  }
}
