import { Cluster, Redis } from 'ioredis';
import { poolScriptSuite } from './pool-scripts.suite.js';
import { connectRedis, createRedis } from '../src/redis/client.js';
import { sharedRedisCluster } from './support/shared-cluster.js';
import { TEST_REDIS_URL } from './support/redis-url.js';

poolScriptSuite('standalone Redis', () => {
  const clients: (Redis | Cluster)[] = [];
  const settings = { url: TEST_REDIS_URL, clusterNodes: null, connectTimeoutMs: 3000 };
  return {
    async connect() {
      const r = createRedis(settings);
      await connectRedis(r, settings);
      clients.push(r);
      return r;
    },
    async subscriber() {
      const r = new Redis(settings.url);
      clients.push(r);
      return r;
    },
    async close() {
      for (const c of clients) c.disconnect();
    },
  };
});

poolScriptSuite('a 3-master Redis Cluster', () => {
  const clients: (Redis | Cluster)[] = [];
  return {
    async connect() {
      const settings = { url: '', clusterNodes: sharedRedisCluster(), connectTimeoutMs: 10_000 };
      const r = createRedis(settings);
      await connectRedis(r, settings);
      clients.push(r);
      return r;
    },
    async subscriber() {
      const r = new Cluster(sharedRedisCluster(), { shardedSubscribers: true });
      r.on('error', () => {});
      clients.push(r);
      return r;
    },
    async close() {
      for (const c of clients) c.disconnect();
    },
  };
});
