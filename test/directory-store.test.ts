// The directory's claims on the real Redis: a name has one owner, and letting it go
// deletes only one's own claim (release-claim-1.lua), whatever happened in between.
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { DirectoryStore } from '../src/redis/directory-store.js';
import { directoryKeys } from '../src/redis/keys.js';
import { registerScripts } from '../src/redis/scripts.js';
import { deleteKeys, uniquePrefix } from './support/gateway.js';
import { TEST_REDIS_URL } from './support/redis-url.js';

const redis = new Redis(TEST_REDIS_URL);
const prefix = uniquePrefix('dir');
const store = new DirectoryStore(redis, registerScripts(redis), prefix);
afterAll(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

it('keeps a name with its first owner, and a release by anyone else deletes nothing', async () => {
  expect(await store.claim('number', '+14155550100', 'acctA')).toBe(true);
  expect(await store.claim('number', '+14155550100', 'acctB')).toBe(false);
  expect(await store.releaseIfOwner('number', '+14155550100', 'acctB')).toBe(false);
  expect(await store.owner('number', '+14155550100')).toBe('acctA');
  expect(await store.releaseIfOwner('number', '+14155550100', 'acctA')).toBe(true);
  expect(await redis.exists(directoryKeys(prefix).number('+14155550100'))).toBe(0);
  // Released, the name can be claimed again; an old owner's late release leaves it alone.
  expect(await store.claim('number', '+14155550100', 'acctB')).toBe(true);
  expect(await store.releaseIfOwner('number', '+14155550100', 'acctA')).toBe(false);
  expect(await store.owner('number', '+14155550100')).toBe('acctB');
});

it('holds a retired identity for the account that removed it until the hold runs out (issue #16)', async () => {
  const id = `dave${Date.now()}`;
  expect(await store.claimIdentity(id, 'acctA dave', 'acctA')).toEqual({ outcome: 'claimed' });
  expect(await store.claimIdentity(id, 'acctA dave', 'acctA')).toEqual({ outcome: 'own' });
  expect(await store.claimIdentity(id, 'acctB dave', 'acctB')).toEqual({ outcome: 'taken' });
  // Another owner's value is never retired.
  expect(await store.retireIdentity(id, 'acctB dave', 'acctB', 1)).toBe(false);
  expect(await store.isIdentityRemoved(id)).toBe(false);
  expect(await store.retireIdentity(id, 'acctA dave', 'acctA', 1)).toBe(true);
  expect(await store.owner('identity', id)).toBeNull();
  expect(await store.isIdentityRemoved(id)).toBe(true);
  expect(await store.claimIdentity(id, 'acctB dave', 'acctB')).toEqual({ outcome: 'held', secondsLeft: 1 });
  // The account that removed it takes it back: dialled again, and the hold still stands
  // for the others (should that claim be undone, nobody else gets it early).
  expect(await store.claimIdentity(id, 'acctA erin', 'acctA')).toEqual({ outcome: 'claimed' });
  expect(await store.isIdentityRemoved(id)).toBe(false);
  expect(await store.releaseIfOwner('identity', id, 'acctA erin')).toBe(true);
  expect(await store.claimIdentity(id, 'acctB dave', 'acctB')).toMatchObject({ outcome: 'held' });
  // Once the hold is over, anyone may claim it.
  await expect.poll(() => store.isIdentityRemoved(id), { timeout: 3_000, interval: 50 }).toBe(false);
  expect(await store.claimIdentity(id, 'acctB dave', 'acctB')).toEqual({ outcome: 'claimed' });
  expect(await store.owner('identity', id)).toBe('acctB dave');
});
