// command() (src/redis/command.ts): a command sent without ioredis's copy of its arguments
// arrives whole and in order, its reply decoded as ioredis's own methods decode it, its
// error passed on, a closed client's refusal too. (Every script the suite runs goes through
// it, on a standalone Redis and on a Cluster: cluster-gateway.test.ts.)
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { command } from '../src/redis/command.js';
import { TEST_REDIS_URL } from './support/redis-url.js';

const prefix = `mgt-command-${randomBytes(4).toString('hex')}`;
let redis: Redis;
beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL);
});
afterAll(async () => {
  await redis.del(`${prefix}:list`, `${prefix}:s`);
  redis.disconnect();
});

it('sends every argument, in order, and answers as ioredis would', async () => {
  const values = Array.from({ length: 40 }, (_, i) => (i % 2 ? `v${i}` : i));
  expect(await command(redis, 'rpush', [`${prefix}:list`, ...values])).toBe(40);
  expect(await redis.lrange(`${prefix}:list`, 0, -1)).toEqual(values.map(String));
  expect(await command(redis, 'lrange', [`${prefix}:list`, 0, 2])).toEqual(await redis.lrange(`${prefix}:list`, 0, 2));
  expect(await command(redis, 'set', [`${prefix}:s`, 'é ☎', 'EX', 60])).toBe('OK');
  expect(await command(redis, 'get', [`${prefix}:s`])).toBe('é ☎');
  expect(await command(redis, 'get', [`${prefix}:missing`])).toBeNull();
  // The same arguments array may be sent twice: nothing of it is kept or changed.
  const args = [`${prefix}:list`, 0, 0];
  expect(await command(redis, 'lrange', args)).toEqual(['0']);
  expect(await command(redis, 'lrange', args)).toEqual(['0']);
  expect(args).toEqual([`${prefix}:list`, 0, 0]);
});

it("passes a command's error on, and a closed client's", async () => {
  await expect(command(redis, 'hget', [`${prefix}:s`, 'f'])).rejects.toThrow(/WRONGTYPE/);
  const closed = new Redis(TEST_REDIS_URL, { lazyConnect: true, enableOfflineQueue: false });
  closed.disconnect();
  await expect(command(closed, 'get', [`${prefix}:s`])).rejects.toThrow();
});
