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

describe('TtlCache limit', () => {
  it('keeps at most its limit, dropping the older half of it whole', () => {
    const cache = new TtlCache<number>(60_000, 4);
    for (const [i, k] of ['a', 'b', 'c', 'd', 'e'].entries()) cache.set(k, i);
    // a and b went with the older generation when e needed room; the last limit/2 set stay.
    expect(['a', 'b', 'c', 'd', 'e'].map((k) => cache.get(k))).toEqual([undefined, undefined, 2, 3, 4]);
  });

  it('a key set again answers its newer value, and delete forgets both', () => {
    const cache = new TtlCache<number>(60_000, 4);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('a', 3); // 'a' is now in both generations
    expect(cache.get('a')).toBe(3);
    cache.delete('a');
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBe(2);
  });

  it('an entry past its time is gone from either generation', () => {
    const cache = new TtlCache<number>(1_000, 4);
    cache.set('a', 1, 0);
    cache.set('b', 2, 0);
    cache.set('c', 3, 0); // a and b now in the older generation
    expect(cache.get('a', 999)).toBe(1);
    expect(cache.get('a', 1_000)).toBeUndefined();
    expect(cache.get('c', 1_000)).toBeUndefined();
  });
});

describe('TtlCache memory', () => {
  it('a cached CallSid parsed from a webhook body keeps only itself, not the body', async () => {
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    const { signedParamsFromForm } = await import('../twilio/signature.js');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const N = 5_000;
    // Bodies as Twilio sends them: the CallSid among ~1 KB of other parameters.
    const body = (i: number) => `AccountSid=AC0123&CallSid=CA${String(i).padStart(32, '0')}&From=client%3Aalice&To=%2B14155550100&Filler=${'x'.repeat(1000)}`;
    const cache = new TtlCache<string>(60_000, N);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < N; i++) {
      // The request's body lives only in here: only the cache may keep anything of it.
      cache.set(signedParamsFromForm(body(i)).CallSid as string, `acct${i % 10}`);
    }
    gc();
    const perEntry = (process.memoryUsage().heapUsed - before) / N;
    expect(cache.get(`CA${String(N - 1).padStart(32, '0')}`)).toBe(`acct${(N - 1) % 10}`);
    // A ~34-character key, its entry and the Map's slot: ~200 bytes. A key that still
    // viewed its body would keep ~1,100.
    expect(perEntry).toBeLessThan(500);
  });
});
