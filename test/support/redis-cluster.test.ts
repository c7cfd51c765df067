// The cluster startRedisCluster builds, as the run shares it (support/global-cluster.ts):
// other files use it at the same time, so keys here carry a tag of this run's own.
import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedRedisCluster } from './shared-cluster.js';

describe('startRedisCluster', () => {
  const cluster = { nodes: sharedRedisCluster() };
  const tag = `acc1-${randomBytes(4).toString('hex')}`;
  const clients: Cluster[] = [];

  const connect = (opts: ConstructorParameters<typeof Cluster>[1] = {}) => {
    const c = new Cluster(cluster.nodes, opts);
    c.on('error', () => {
      /* failures surface through the commands under test */
    });
    clients.push(c);
    return c;
  };

  afterAll(async () => {
    await connect().del(`x:{${tag}}:a`, `x:{${tag}}:b`);
    for (const c of clients) c.disconnect();
  });

  it('runs 3 masters covering all slots', async () => {
    expect(cluster.nodes).toHaveLength(3);
    const c = connect();
    const info = await c.cluster('INFO');
    expect(String(info)).toMatch(/cluster_state:ok/);
    expect(String(info)).toMatch(/cluster_slots_assigned:16384/);
    expect(String(info)).toMatch(/cluster_size:3/);
  });

  it('runs EVAL over two keys sharing one {tag} hash tag', async () => {
    const c = connect();
    const script = `
      redis.call('SET', KEYS[1], ARGV[1])
      redis.call('SET', KEYS[2], ARGV[2])
      return redis.call('INCRBY', KEYS[1], redis.call('GET', KEYS[2]))
    `;
    const result = await c.eval(script, 2, `x:{${tag}}:a`, `x:{${tag}}:b`, '40', '2');
    expect(result).toBe(42);
    expect(await c.get(`x:{${tag}}:a`)).toBe('42');
  });

  it('round-trips SPUBLISH/SSUBSCRIBE on x:{tag}:bal (sharded pub/sub)', async () => {
    const pub = connect();
    const sub = connect({ shardedSubscribers: true });
    const channel = `x:{${tag}}:bal`;

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
