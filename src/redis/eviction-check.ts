// Start-up check of Redis's maxmemory-policy. Any policy but noeviction lets Redis drop
// keys under memory pressure — pool balances, holds and ledgers included — silently
// losing minutes. With noeviction writes fail instead and the gateway fails closed (R14).
// Managed Redis often disables CONFIG: that is reported once, never fatal.
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '../log.js';

export type EvictionCheck = { result: 'safe' } | { result: 'evicts'; policy: string } | { result: 'unknown'; reason: string };

export async function checkEvictionPolicy(redis: Redis | Cluster): Promise<EvictionCheck> {
  const nodes = 'nodes' in redis && typeof redis.nodes === 'function' ? redis.nodes('master') : [redis as Redis];
  try {
    for (const node of nodes) {
      const reply = (await node.config('GET', 'maxmemory-policy')) as string[];
      const policy = reply[1];
      if (policy === undefined) return { result: 'unknown', reason: 'CONFIG GET returned nothing' };
      if (policy !== 'noeviction') return { result: 'evicts', policy };
    }
    return { result: 'safe' };
  } catch (err) {
    return { result: 'unknown', reason: err instanceof Error ? err.message : String(err) };
  }
}

/** One clear line when Redis could evict pool keys (or when that cannot be checked). */
export async function warnIfRedisCanEvict(redis: Redis | Cluster, log: Logger): Promise<void> {
  const c = await checkEvictionPolicy(redis);
  if (c.result === 'evicts') {
    log.warn(
      `Redis maxmemory-policy is ${c.policy}: under memory pressure Redis may evict pool keys and lose minutes; set maxmemory-policy noeviction`,
      { maxmemoryPolicy: c.policy },
    );
  } else if (c.result === 'unknown') {
    log.info('could not read Redis maxmemory-policy (CONFIG disabled?): make sure it is noeviction', { reason: c.reason });
  }
}
