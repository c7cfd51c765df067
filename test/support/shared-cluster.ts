// The run's shared 3-master Redis Cluster (started once by support/global-setup.ts).
// Never reconfigure or flush it: other files use it at the same time, each under its
// own key prefix.
import { inject } from 'vitest';
import type { RedisClusterNode } from './redis-cluster.js';

export function sharedRedisCluster(): RedisClusterNode[] {
  const nodes = inject('redisCluster');
  if (!nodes?.length) throw new Error('no shared Redis Cluster: test/support/global-setup.ts is not in vitest.config.ts globalSetup');
  return nodes;
}
