// sendAll (src/redis/send-all.ts): the stores' bulk commands sent together — replies in
// order, nothing written twice, an error passed on. (cluster-gateway.test.ts covers the
// archive's expiries on a Cluster; write-coalescing.test.ts that they leave in one write.)
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sendAll } from '../src/redis/send-all.js';
import { TEST_REDIS_URL } from './support/redis-url.js';

const prefix = `mgt-sendall-${randomBytes(4).toString('hex')}`;
let redis: Redis;
beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL);
});
afterAll(async () => {
  await redis.del(`${prefix}:h1`, `${prefix}:h3`, `${prefix}:s`);
  redis.disconnect();
});

it('sends many commands as one pipeline and answers in their order', async () => {
  await redis.hset(`${prefix}:h1`, 'f', 'one');
  await redis.hset(`${prefix}:h3`, 'f', 'three');
  expect(await sendAll(redis, [['hget', `${prefix}:h1`, 'f'], ['hget', `${prefix}:h2`, 'f'], ['hget', `${prefix}:h3`, 'f']])).toEqual(['one', null, 'three']);
  expect(await sendAll(redis, [['pexpire', `${prefix}:h1`, 60_000], ['pexpire', `${prefix}:missing`, 60_000]])).toEqual([1, 0]);
  const ttl = await redis.pttl(`${prefix}:h1`);
  expect(ttl).toBeGreaterThan(0);
  expect(ttl).toBeLessThanOrEqual(60_000);
  expect(await sendAll(redis, [])).toEqual([]);
});

it('passes a command\'s error on', async () => {
  await redis.set(`${prefix}:s`, 'x');
  await expect(sendAll(redis, [['hget', `${prefix}:h1`, 'f'], ['hget', `${prefix}:s`, 'f']])).rejects.toThrow(/WRONGTYPE/);
});
