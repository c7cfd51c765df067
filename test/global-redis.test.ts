// `npm test` needs nothing running: the global setup starts a private redis-server only
// when nothing answers, and leaves an answering one (the shared :6379) untouched.
import { expect, it } from 'vitest';
import { ensureRedis } from './support/global-redis.js';
import { pickFreePort, pingRedis } from './support/redis-server.js';
import { TEST_REDIS_URL } from './support/redis-url.js';

it('starts a private redis-server on an unused port and stops it at teardown', async () => {
  const port = await pickFreePort();
  expect(await pingRedis(port)).toBe(false);
  const teardown = await ensureRedis(`redis://127.0.0.1:${port}`);
  expect(await pingRedis(port)).toBe(true);
  await teardown();
  expect(await pingRedis(port)).toBe(false);
});

it('uses a Redis that already answers and never stops it', async () => {
  const port = Number(new URL(TEST_REDIS_URL).port || 6379);
  expect(await pingRedis(port)).toBe(true);
  const teardown = await ensureRedis(TEST_REDIS_URL);
  await teardown();
  expect(await pingRedis(port)).toBe(true);
});
