import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisCluster, type RedisClusterHandle } from './redis-cluster.js';

describe('startRedisCluster', () => {
  let cluster: RedisClusterHandle;
  const clients: Cluster[] = [];

  const connect = (opts: ConstructorParameters<typeof Cluster>[1] = {}) => {
    const c = new Cluster(cluster.nodes, opts);
    c.on('error', () => {
      /* failures surface through the commands under test */
    });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    cluster = await startRedisCluster();
  });

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await cluster?.stop();
  });

  it('runs 3 masters covering all slots', async () => {
    expect(cluster.nodes).toHaveLength(3);
    const c = connect();
    const info = await c.cluster('INFO');
    expect(String(info)).toMatch(/cluster_state:ok/);
    expect(String(info)).toMatch(/cluster_slots_assigned:16384/);
    expect(String(info)).toMatch(/cluster_size:3/);
  });

  it('runs EVAL over two keys sharing the {acc1} hash tag', async () => {
    const c = connect();
    const script = `
      redis.call('SET', KEYS[1], ARGV[1])
      redis.call('SET', KEYS[2], ARGV[2])
      return redis.call('INCRBY', KEYS[1], redis.call('GET', KEYS[2]))
    `;
    const result = await c.eval(script, 2, 'x:{acc1}:a', 'x:{acc1}:b', '40', '2');
    expect(result).toBe(42);
    expect(await c.get('x:{acc1}:a')).toBe('42');
  });

  it('round-trips SPUBLISH/SSUBSCRIBE on x:{acc1}:bal (sharded pub/sub)', async () => {
    const pub = connect();
    const sub = connect({ shardedSubscribers: true });
    const channel = 'x:{acc1}:bal';

    const received = new Promise<[string, string]>((resolve) => {
      sub.on('smessage', (ch: string, msg: string) => resolve([ch, msg]));
    });
    await sub.ssubscribe(channel);

    // Publish until the subscription is visible (SSUBSCRIBE has been acknowledged
    // above, so the first publish normally reaches it).
    let delivered = 0;
    for (let i = 0; i < 50 && delivered === 0; i++) {
      delivered = Number(await pub.spublish(channel, 'hello'));
      if (delivered === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(delivered).toBe(1);
    expect(await received).toEqual([channel, 'hello']);
  });
});
