// A small bounded cache with a time-to-live, for lookups on the webhook hot path whose
// answers change rarely (who owns an identity or a number). Never used for metering state.
export class TtlCache<V> {
  /** Two generations of at most limit/2 entries each: new entries go into `young`; when it
   *  is full it becomes `old`, and the `old` before it is dropped whole. A full cache used
   *  to drop its oldest entry per insertion, found by `keys().next()`, which walks over
   *  every entry deleted before it that the Map has not compacted away yet: 30–100 µs per
   *  insertion once the call cache (removed since, session 25) held its 200,000 calls
   *  (BENCHMARKS.md, session 23). */
  private young = new Map<string, { v: V; until: number }>();
  private old = new Map<string, { v: V; until: number }>();
  private readonly generation: number;
  /** Loads in flight: callers missing the same key meanwhile share one (a storm of socket
   *  upgrades of one staff member misses its token generation together, every time the
   *  entry lapses; a Redis read each was an ioredis pipeline each, alive through the round
   *  trip). */
  private readonly loading = new Map<string, Promise<V | null>>();

  /** Holds at most `limit` entries (and the last limit/2 set, at least). */
  constructor(
    private readonly ttlMs: number,
    limit = 50_000,
  ) {
    this.generation = Math.max(1, Math.ceil(limit / 2));
  }

  get(key: string, now = Date.now()): V | undefined {
    // `young` first: a key set again since it went to `old` has its newer value there.
    const e = this.young.get(key) ?? this.old.get(key);
    if (!e) return undefined;
    if (e.until <= now) {
      this.young.delete(key);
      this.old.delete(key);
      return undefined;
    }
    return e.v;
  }

  set(key: string, v: V, now = Date.now()): void {
    if (this.young.size >= this.generation) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(ownString(key), { v: typeof v === 'string' ? (ownString(v) as V) : v, until: now + this.ttlMs });
  }

  /** The cached value, or the loaded one (cached when it is not null). */
  async getOrLoad(key: string, load: () => Promise<V | null>): Promise<V | null> {
    const hit = this.get(key);
    if (hit !== undefined) return hit;
    const inFlight = this.loading.get(key);
    if (inFlight) return inFlight;
    const p = load().then(
      (v) => {
        // Deleted meanwhile (delete() drops the load too): the value may predate the reason.
        if (this.loading.get(key) !== p) return v;
        this.loading.delete(key);
        if (v !== null) this.set(key, v);
        return v;
      },
      (err: unknown) => {
        if (this.loading.get(key) === p) this.loading.delete(key);
        throw err;
      },
    );
    this.loading.set(key, p);
    return p;
  }

  /** Forgets the key, and any load of it in flight: the next caller reads afresh. */
  delete(key: string): void {
    this.young.delete(key);
    this.old.delete(key);
    this.loading.delete(key);
  }
}

/**
 * A copy of `s` that keeps nothing else alive. V8 cuts a substring of 13 characters or more
 * as a view of the string it came from, so a key parsed from a webhook's form body (a
 * softphone identity; the CallSids of the call cache, session 23) kept the whole body (~1 KB)
 * for as long as the cache kept the key, and the collector carried it (BENCHMARKS.md). Joining
 * the string to another makes V8 copy its characters into a new string when sliced again.
 */
export function ownString(s: string): string {
  return (' ' + s).slice(1);
}
