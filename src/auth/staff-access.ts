// Issue #8: a staff token is only as good as its staff member's token generation. Each
// account keeps one hash, staffId → generation (0 when absent); revoking a member's tokens
// or removing the member moves it on, and every token issued with an older generation
// stops working. The generation is read through a short cache, so a change reaches every
// instance's REST routes within CACHE_MS; sockets are re-checked on a timer (ClientGateway).
import type { StaffAccessStore } from '../redis/staff-access-store.js';
import { TtlCache } from '../metering/ttl-cache.js';

/** How long a generation read may be reused: well within the 5 s the issue allows. */
export const STAFF_ACCESS_CACHE_MS = 2_000;

export class StaffAccess {
  private readonly cache = new TtlCache<number>(STAFF_ACCESS_CACHE_MS, 100_000);

  constructor(private readonly store: StaffAccessStore) {}

  /** The generation a new token of the member is issued with. */
  async current(accountId: string, staffId: string): Promise<number> {
    return this.store.generation(accountId, staffId);
  }

  /** True when a token of this generation is still good (cached for a moment). */
  async admits(accountId: string, staffId: string, gen: number): Promise<boolean> {
    const key = `${accountId} ${staffId}`;
    const v = (await this.cache.getOrLoad(key, () => this.current(accountId, staffId)))!;
    return gen >= v;
  }

  /** Fresh generations of many members (one HMGET per account), refreshing the cache. */
  async refresh(members: { accountId: string; staffId: string }[]): Promise<Map<string, number>> {
    const byAccount = new Map<string, string[]>();
    for (const m of members) {
      const list = byAccount.get(m.accountId) ?? [];
      if (!list.includes(m.staffId)) list.push(m.staffId);
      byAccount.set(m.accountId, list);
    }
    const out = new Map<string, number>();
    await Promise.all(
      [...byAccount].map(async ([accountId, staffIds]) => {
        const gens = await this.store.generations(accountId, staffIds);
        staffIds.forEach((s, i) => {
          const key = `${accountId} ${s}`;
          const g = gens[i] ?? 0;
          out.set(key, g);
          this.cache.set(key, g);
        });
      }),
    );
    return out;
  }

  /** This instance changed the generation: forget what it remembered. */
  forget(accountId: string, staffId: string): void {
    this.cache.delete(`${accountId} ${staffId}`);
  }
}
