// Staff token generations in Redis (issue #8): per account one hash, staffId → generation
// (0 when absent). The scripts move it on (revoke-staff-tokens, remove-staff); this only
// reads it. Caching and the admit decision live in auth/staff-access.ts.
import type { Cluster, Redis } from 'ioredis';
import { accountKeys } from './keys.js';

export class StaffAccessStore {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
  ) {}

  async generation(accountId: string, staffId: string): Promise<number> {
    return Number((await this.redis.hget(accountKeys(this.prefix, accountId).tokenGen, staffId)) ?? 0);
  }

  /** The generations of several members of one account (one HMGET), in their order. */
  async generations(accountId: string, staffIds: string[]): Promise<number[]> {
    const gens = await this.redis.hmget(accountKeys(this.prefix, accountId).tokenGen, ...staffIds);
    return gens.map((g) => Number(g ?? 0));
  }
}
