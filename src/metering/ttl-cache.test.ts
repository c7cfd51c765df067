import { describe, expect, it } from 'vitest';
import { TtlCache } from './ttl-cache.js';

const deferred = <T>() => {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
};

describe('TtlCache.getOrLoad', () => {
  it('callers missing one key together share one load, and the value is cached', async () => {
    const cache = new TtlCache<number>(1000);
    const d = deferred<number>();
    let loads = 0;
    const load = () => (loads++, d.promise);
    const all = Promise.all([cache.getOrLoad('k', load), cache.getOrLoad('k', load), cache.getOrLoad('k', load)]);
    d.resolve(7);
    expect(await all).toEqual([7, 7, 7]);
    expect(loads).toBe(1);
    expect(await cache.getOrLoad('k', async () => 8)).toBe(7);
  });

  it('a failed load fails its sharers and is not remembered', async () => {
    const cache = new TtlCache<number>(1000);
    const d = deferred<number>();
    const a = cache.getOrLoad('k', () => d.promise);
    const b = cache.getOrLoad('k', () => d.promise);
    d.reject(new Error('redis away'));
    await expect(a).rejects.toThrow('redis away');
    await expect(b).rejects.toThrow('redis away');
    expect(await cache.getOrLoad('k', async () => 3)).toBe(3);
  });

  it('after delete() the next caller loads afresh, and the older load does not refill the cache', async () => {
    const cache = new TtlCache<number>(1000);
    const old = deferred<number>();
    const first = cache.getOrLoad('k', () => old.promise);
    cache.delete('k');
    const fresh = cache.getOrLoad('k', async () => 2);
    old.resolve(1);
    expect(await first).toBe(1);
    expect(await fresh).toBe(2);
    expect(await cache.getOrLoad('k', async () => 99)).toBe(2);
  });

  it('null is answered but not cached', async () => {
    const cache = new TtlCache<number>(1000);
    expect(await cache.getOrLoad('k', async () => null)).toBeNull();
    expect(await cache.getOrLoad('k', async () => 5)).toBe(5);
  });
});
