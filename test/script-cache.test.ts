// Scripts run by EVALSHA (src/redis/scripts.ts): a server that lost its script cache — a
// restart, SCRIPT FLUSH, a new master of a cluster — answers NOSCRIPT, and the runner
// sends the script itself (EVAL), which caches it again. On a private redis-server: the
// shared one's cache is other tests' too.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { registerScripts } from '../src/redis/scripts.js';
import { startRedisServer, type RedisServerHandle } from './support/redis-server.js';

let srv: RedisServerHandle;
let redis: Redis;
beforeAll(async () => {
  srv = await startRedisServer();
  redis = new Redis(srv.url);
});
afterAll(async () => {
  redis.disconnect();
  await srv.stop();
});

const keys = ['t:{a}:pool', 't:{a}:ledger', 't:{a}:auths', 't:{a}:authexp'];
const run = (scripts: ReturnType<typeof registerScripts>) => scripts.run('read-pool', keys, [Date.now(), 't:{a}:events', '']);
const evalCalls = async () => Number(/cmdstat_eval:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);

it('runs by EVALSHA once the server has the script, and by EVAL again after the cache is flushed', async () => {
  const scripts = registerScripts(redis);
  // No such pool: -1 (NO_ACCOUNT), as the script answers, whichever way it was sent.
  expect(await run(scripts)).toEqual([-1]);
  expect(await evalCalls()).toBe(1); // the first run: NOSCRIPT, then EVAL
  expect(await run(scripts)).toEqual([-1]);
  expect(await run(scripts)).toEqual([-1]);
  expect(await evalCalls()).toBe(1); // cached: EVALSHA alone
  await redis.script('FLUSH');
  const together = await Promise.all(Array.from({ length: 5 }, () => run(scripts)));
  expect(together).toEqual(Array.from({ length: 5 }, () => [-1]));
  expect(await run(scripts)).toEqual([-1]);
  // The five in flight each met NOSCRIPT and sent the script; the one after, EVALSHA.
  expect(await evalCalls()).toBe(6);
});

it('passes a script error on as it is, without a second try', async () => {
  const scripts = registerScripts(redis);
  // A pool whose cycle end is no number: the script fails (a Lua error), once.
  await redis.hset('t:{b}:pool', 'accountId', 'b', 'cycleEnd', 'not a number');
  const before = await evalCalls();
  await expect(scripts.run('read-pool', ['t:{b}:pool', 't:{b}:ledger', 't:{b}:auths', 't:{b}:authexp'], [Date.now(), 't:{b}:events', ''])).rejects.toThrow();
  expect(await evalCalls()).toBe(before);
});
