// One local 3-master Redis Cluster for the whole run, shared by every file that needs a
// cluster (each keeps to its own key prefix, as on the standalone server), instead of one
// cluster started and stopped per file. Started by global-setup.ts; its nodes reach the
// files through vitest's provide/inject (support/shared-cluster.ts). Files that change a
// cluster's configuration (redis-auth: requirepass; redis-tls: TLS) still start their own.
import type { TestProject } from 'vitest/node';
import { startRedisCluster, type RedisClusterNode } from './redis-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisCluster: RedisClusterNode[];
  }
}

/** Starts the run's cluster and provides its nodes; resolves to its teardown. */
export async function provideRedisCluster(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startRedisCluster();
  project.provide('redisCluster', cluster.nodes);
  return () => cluster.stop();
}
