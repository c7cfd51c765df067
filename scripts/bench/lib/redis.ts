// The bench's own Redis client, its clean-up, and INFO counters (CPU, commandstats).
import { Redis } from 'ioredis';
import { REDIS_URL } from './util.js';

/** Errors surface through the commands (connect() rejects); the 'error' events would only
 *  repeat them on stderr. */
export function createRedis(): Redis {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  return redis;
}

export async function redisServerVersion(redis: Redis): Promise<string> {
  return /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? '?';
}

/** SCAN + UNLINK under the run's prefix (never KEYS/DEL: Redis is shared). With no client
 *  of the bench's own (it failed before connecting), a short-lived one is used. */
export async function deleteBenchKeys(redis: Redis | null, prefix: string): Promise<number> {
  const client = redis ?? new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  if (client.status === 'wait') await client.connect();
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length > 0) deleted += await client.unlink(...keys);
  } while (cursor !== '0');
  if (client !== redis) client.disconnect();
  return deleted;
}

/** One command's counters in INFO commandstats: times called, µs spent executing. */
export interface CommandStat {
  calls: number;
  usec: number;
}

export async function commandStats(redis: Redis): Promise<Map<string, CommandStat>> {
  const out = new Map<string, CommandStat>();
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    out.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  }
  return out;
}

const SCRIPT_COMMANDS = /^(eval|evalsha|eval_ro|evalsha_ro|fcall|fcall_ro)$/;

/** What Redis executed between two snapshots, the bench's own INFO left out. Redis counts
 *  each command a Lua script runs under its own name as well as in the script's calls and
 *  time, so `commands` and `usec` include them (and `usec` counts their time twice); the
 *  script calls are given apart. */
export function commandStatsDelta(a: Map<string, CommandStat>, b: Map<string, CommandStat>) {
  let commands = 0;
  let usec = 0;
  let scriptCalls = 0;
  let scriptUsec = 0;
  for (const [name, s] of b) {
    if (name === 'info') continue;
    const calls = s.calls - (a.get(name)?.calls ?? 0);
    const us = s.usec - (a.get(name)?.usec ?? 0);
    commands += calls;
    usec += us;
    if (SCRIPT_COMMANDS.test(name)) {
      scriptCalls += calls;
      scriptUsec += us;
    }
  }
  return { commands, usec, scriptCalls, scriptUsec };
}
