// Scripts run as Redis Functions (src/redis/scripts.ts): a server without the library — new,
// restarted (this Redis keeps nothing on disk), FUNCTION FLUSH, a new master of a cluster —
// answers "Function not found", and the runner loads the library and calls again. On a
// private redis-server: the shared one's functions are other tests' too.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isStorageFailure } from '../src/domain/storage-failure.js';
import { registerScripts, scriptLibrary } from '../src/redis/scripts.js';
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
const stat = async (cmd: string) =>
  Number(new RegExp(`cmdstat_${cmd.replace('|', '\\|')}:calls=(\\d+)`).exec(await redis.info('commandstats'))?.[1] ?? 0);
const libraries = async () => ((await redis.function('LIST')) as unknown[][]).map((l) => String(l[1]));

it('loads the library on a server that lacks it, once for calls that meet its absence together', async () => {
  const scripts = registerScripts(redis);
  const { name } = scriptLibrary();
  expect(await libraries()).toEqual([]);
  // No such pool: -1 (NO_ACCOUNT), as the script answers.
  expect(await run(scripts)).toEqual([-1]);
  expect(await libraries()).toEqual([name]);
  expect(await stat('function|load')).toBe(1);
  expect(await run(scripts)).toEqual([-1]);
  expect(await stat('function|load')).toBe(1); // loaded: FCALL alone
  await redis.function('FLUSH');
  const together = await Promise.all(Array.from({ length: 5 }, () => run(scripts)));
  expect(together).toEqual(Array.from({ length: 5 }, () => [-1]));
  // The five in flight shared one load; the call after it found the library.
  expect(await stat('function|load')).toBe(2);
  expect(await run(scripts)).toEqual([-1]);
  expect(await stat('function|load')).toBe(2);
  // Each call that met the absence went twice: 2 + 1, then 5 × 2 + 1.
  expect(await stat('fcall')).toBe(14);
});

it('shares a server with another version of the gateway, and with a runner that loaded it first', async () => {
  // Another instance of the same version loaded the library a moment ago ("already exists").
  await redis.function('FLUSH');
  const code = scriptLibrary().code;
  await redis.function('LOAD', code);
  const scripts = registerScripts(redis);
  expect(await run(scripts)).toEqual([-1]);
  // An older version's library stays loaded beside this one; each calls its own functions.
  const older = code.replace(/minutegate_([0-9a-f]{12})/g, 'minutegate_000000000000').replace(/mg_[0-9a-f]{12}_/g, 'mg_000000000000_');
  await redis.function('LOAD', older);
  expect(await run(scripts)).toEqual([-1]);
  expect((await libraries()).sort()).toEqual([scriptLibrary().name, 'minutegate_000000000000'].sort());
});

it('passes a script error on as it is, without a second try', async () => {
  const scripts = registerScripts(redis);
  // A pool whose cycle end is no number: the script fails (a Lua error), once.
  await redis.hset('t:{b}:pool', 'accountId', 'b', 'cycleEnd', 'not a number');
  await run(scripts); // the library is there
  const before = await stat('fcall');
  await expect(scripts.run('read-pool', ['t:{b}:pool', 't:{b}:ledger', 't:{b}:auths', 't:{b}:authexp'], [Date.now(), 't:{b}:events', ''])).rejects.toThrow();
  expect(await stat('fcall')).toBe(before + 1);
});

it('passes the load\'s own refusal on when a server without the library cannot take it (a storage failure, R14)', async () => {
  const scripts = registerScripts(redis);
  await redis.function('FLUSH');
  // Over maxmemory (noeviction): FUNCTION LOAD is refused, as every write would be.
  await redis.config('SET', 'maxmemory', '1');
  try {
    const err = (await run(scripts).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/^OOM command not allowed/);
    expect(isStorageFailure(err)).toBe(true);
  } finally {
    await redis.config('SET', 'maxmemory', '0');
  }
  // Room again: the next call loads it and runs.
  expect(await run(scripts)).toEqual([-1]);
});
