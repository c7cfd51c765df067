// The periodic audit's lease (R20): one key, taken with SET NX PX by the instance that runs
// the audit and left to expire, so across every instance the audit runs once per interval;
// an instance whose run failed lets it go at once (release-claim-1.lua: only its own), so
// the next instance to look tries again.
import type { Cluster, Redis } from 'ioredis';
import { auditGlobalKeys } from './keys.js';
import { outcome } from './script-codes.js';
import type { ScriptRunner } from './scripts.js';

export class AuditLease {
  private readonly key: string;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly scripts: ScriptRunner,
    prefix: string,
  ) {
    this.key = auditGlobalKeys(prefix).lease;
  }

  /** True when `owner` took the lease for `ms` (nobody held it). */
  async take(owner: string, ms: number): Promise<boolean> {
    return (await this.redis.set(this.key, owner, 'PX', Math.max(1, Math.round(ms)), 'NX')) === 'OK';
  }

  /** Lets the lease go if `owner` still holds it. */
  async release(owner: string): Promise<boolean> {
    return outcome('release-claim', await this.scripts.run('release-claim', [this.key], [owner])) === 'released';
  }
}
