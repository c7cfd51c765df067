// The commands of one event-loop turn leave as one write (src/redis/write-coalescing.ts),
// on the gateway's own clients (createRedis): held while the turn lasts, answered in order,
// again after a reconnection, and on every node of a Cluster.
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectRedis, createRedis } from '../src/redis/client.js';
import { redisCommand, startRedisServer, type RedisServerHandle } from './support/redis-server.js';
import { sharedRedisCluster } from './support/shared-cluster.js';

const prefix = `mgt-coalesce-${randomBytes(4).toString('hex')}`;
let server: RedisServerHandle;
let redis: Redis;

const settings = (url: string) => ({ url, clusterNodes: null, connectTimeoutMs: 5_000 });
const socketOf = (r: Redis) => r.stream as unknown as { writableCorked: number; writableLength: number };
const readsProcessed = async (r: Redis) => Number(/total_reads_processed:(\d+)/.exec(await r.info('stats'))![1]);
const nextTurn = () => new Promise((r) => setImmediate(r));

beforeAll(async () => {
  server = await startRedisServer();
  redis = createRedis(settings(server.url)) as Redis;
  await connectRedis(redis, settings(server.url));
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

it("holds a turn's commands and writes them together, answered in order", async () => {
  const before = await readsProcessed(redis);
  const sent = Array.from({ length: 200 }, (_, i) => redis.incrby(`${prefix}:n`, i));
  // Still in the turn that sent them: nothing has gone to the socket yet.
  expect(socketOf(redis).writableCorked).toBe(1);
  expect(socketOf(redis).writableLength).toBeGreaterThan(200 * 20);
  const replies = await Promise.all(sent);
  expect(replies).toEqual(Array.from({ length: 200 }, (_, i) => (i * (i + 1)) / 2));
  // One write of ~8 KB: Redis reads it in one or two reads, plus the INFO that asks.
  expect((await readsProcessed(redis)) - before).toBeLessThanOrEqual(4);
  expect(socketOf(redis).writableCorked).toBe(0);
});

it('sends a command of a later turn in that turn, without waiting for anything else', async () => {
  await nextTurn();
  expect(await redis.ping()).toBe('PONG');
  const a = redis.set(`${prefix}:a`, '1');
  await nextTurn();
  expect(socketOf(redis).writableCorked).toBe(0);
  const b = redis.get(`${prefix}:a`);
  expect(await Promise.all([a, b])).toEqual(['OK', '1']);
});

it('coalesces on the new socket after a reconnection', async () => {
  const old = redis.stream;
  const ready = new Promise((r) => redis.once('ready', r));
  const id = String(await redis.client('ID'));
  await redisCommand(server.port, ['CLIENT', 'KILL', 'ID', id]);
  await ready;
  expect(redis.stream).not.toBe(old);
  const p = redis.incr(`${prefix}:r`);
  expect(socketOf(redis).writableCorked).toBe(1);
  expect(await p).toBe(1);
});

it("coalesces each node's commands on a Cluster", async () => {
  const nodes = sharedRedisCluster();
  const cs = { url: 'redis://unused', clusterNodes: nodes, connectTimeoutMs: 5_000 };
  const cluster = createRedis(cs) as Cluster;
  await connectRedis(cluster, cs);
  try {
    // Keys in many slots: every master gets some of them.
    const keys = Array.from({ length: 60 }, (_, i) => `{${prefix}-${i}}:k`);
    const sent = keys.map((k, i) => cluster.set(k, String(i)));
    await nextTurn(); // the cluster routes a command once its slot is known: give it the turn
    const masters = cluster.nodes('master');
    expect(masters.length).toBe(3);
    const answers = await Promise.all(sent);
    expect(answers.every((a) => a === 'OK')).toBe(true);
    const batch = keys.map((k) => cluster.get(k));
    // Held on each master's socket until the turn ends.
    expect(masters.filter((m) => socketOf(m).writableCorked === 1).length).toBe(3);
    expect(await Promise.all(batch)).toEqual(keys.map((_, i) => String(i)));
    await Promise.all(keys.map((k) => cluster.del(k)));
  } finally {
    cluster.disconnect();
  }
});
