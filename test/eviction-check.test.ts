// Start-up check of maxmemory-policy (issue #11): one clear warning when Redis could
// evict pool keys, nothing when it is noeviction, and no failure when CONFIG is refused
// (managed Redis), against a private redis-server.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startGatewayProcess } from './support/gateway-process.js';
import { uniquePrefix } from './support/gateway.js';
import { startRedisServer, type RedisServerHandle } from './support/redis-server.js';

let srv: RedisServerHandle;
let admin: Redis;
beforeAll(async () => {
  srv = await startRedisServer();
  admin = new Redis(srv.url);
  // A user that may do everything the gateway does, but not CONFIG (as on managed Redis).
  await admin.call('ACL', 'SETUSER', 'noconfig', 'on', '>noconfig-pw', '~*', '&*', '+@all', '-config');
});
afterAll(async () => {
  admin.disconnect();
  await srv.stop();
});

async function startupLines(env: Record<string, string>): Promise<string[]> {
  const p = await startGatewayProcess(uniquePrefix('evict'), { REDIS_URL: srv.url, ...env });
  await p.stop();
  return p.output().split('\n').filter((l) => /maxmemory-policy/.test(l));
}

it('warns in one line when Redis may evict keys', async () => {
  await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
  const lines = await startupLines({});
  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', maxmemoryPolicy: 'allkeys-lru' });
  expect(lines[0]).toContain('set maxmemory-policy noeviction');
});

it('says nothing when the policy is noeviction', async () => {
  await admin.config('SET', 'maxmemory-policy', 'noeviction');
  expect(await startupLines({})).toEqual([]);
});

it('starts anyway when CONFIG is refused, saying the policy could not be checked', async () => {
  await admin.config('SET', 'maxmemory-policy', 'volatile-lru');
  const lines = await startupLines({ REDIS_USERNAME: 'noconfig', REDIS_PASSWORD: 'noconfig-pw' });
  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info' });
  expect(lines[0]).toMatch(/could not read Redis maxmemory-policy.*noeviction/);
});
