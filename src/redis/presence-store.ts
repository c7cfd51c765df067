// Issue #8's presence leases in Redis: per staff member, a sorted set in the account's slot
// (member = a gateway instance, score = when its lease runs out), read by
// release-staff-authorizations-5.lua to tell whether a socket of theirs is open anywhere.
import type { Cluster, Redis } from 'ioredis';
import { accountKeys } from './keys.js';

export class PresenceStore {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
  ) {}

  private key(accountId: string, staffId: string): string {
    return accountKeys(this.prefix, accountId).presence(staffId);
  }

  /** This instance holds a socket of the staff member until `until` (wall-clock ms). */
  async renew(accountId: string, staffId: string, instanceId: string, until: number, keepMs: number): Promise<void> {
    const key = this.key(accountId, staffId);
    await this.redis.multi().zadd(key, until, instanceId).pexpire(key, keepMs).exec();
  }

  async drop(accountId: string, staffId: string, instanceId: string): Promise<void> {
    await this.redis.zrem(this.key(accountId, staffId), instanceId);
  }
}
