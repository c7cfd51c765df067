// A small bounded cache with a time-to-live, for lookups on the webhook hot path whose
// answers change rarely (who owns an identity or a number). Never used for metering state.
export class TtlCache<V> {
  private readonly map = new Map<string, { v: V; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly limit = 50_000,
  ) {}

  get(key: string, now = Date.now()): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.until <= now) {
      this.map.delete(key);
      return undefined;
    }
    return e.v;
  }

  set(key: string, v: V, now = Date.now()): void {
    if (this.map.size >= this.limit) {
      const first = this.map.keys().next();
      if (!first.done) this.map.delete(first.value);
    }
    this.map.set(key, { v, until: now + this.ttlMs });
  }

  /** The cached value, or the loaded one (cached when it is not null). */
  async getOrLoad(key: string, load: () => Promise<V | null>): Promise<V | null> {
    const hit = this.get(key);
    if (hit !== undefined) return hit;
    const v = await load();
    if (v !== null) this.set(key, v);
    return v;
  }

  delete(key: string): void {
    this.map.delete(key);
  }
}
