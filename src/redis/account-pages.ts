// Every account of the deployment, a page at a time: the cycle schedule holds every
// account (create-account puts it there first), so a ZSCAN of it is the one list of
// accounts Redis has. For the sweeps that look into each account for work nobody was told
// of (kept alerts, unarchived ledger entries). Reads only.
import type { Cluster, Redis } from 'ioredis';
import { billingGlobalKeys } from './keys.js';

export async function* accountPages(redis: Redis | Cluster, prefix: string, count: number): AsyncGenerator<string[]> {
  const schedule = billingGlobalKeys(prefix).cycleDue;
  let cursor = '0';
  do {
    const [next, flat] = await redis.zscan(schedule, cursor, 'COUNT', count);
    cursor = next;
    yield flat.filter((_, i) => i % 2 === 0);
  } while (cursor !== '0');
}
