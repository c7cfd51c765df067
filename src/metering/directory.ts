// The global lookups the webhooks need before they know the account: softphone identity
// → staff member, phone number → account, CallSid → account. Each is a single key (any
// cluster slot, kept by redis/directory-store.ts). Claims use SET NX so two accounts can
// never own the same identity or number. The CallSid map is read from Redis each time, not
// cached in memory: the calls' own callbacks name their account (twilio/callback-url.ts),
// so only the TwiML App's Status Callback — once per call, at its end — asks it, while a
// cache entry written by every voice webhook cost more than the look-ups it saved
// (BENCHMARKS.md, session 25).
import type { DirectoryStore } from '../redis/directory-store.js';
import { TtlCache } from './ttl-cache.js';

const CALL_MAP_TTL_SECONDS = 14 * 86400;
/** Owners of identities and numbers change only through this API (claims are never
 *  moved), so a positive answer may be reused for a while. */
const OWNER_CACHE_MS = 60_000;
/** Identities are released when a staff member is removed (issue #8), which must reach
 *  every instance within seconds: they are reused only briefly. */
const IDENTITY_CACHE_MS = 2_000;
/** A removed identity stays undiallable, and unclaimable by other accounts, longer than
 *  any Voice SDK token we mint lives (twilio/voice-token.ts: 1 h). */
export const REMOVED_IDENTITY_SECONDS = 2 * 3600;

export class Directory {
  private readonly identityCache = new TtlCache<{ accountId: string; staffId: string }>(IDENTITY_CACHE_MS);
  private readonly numberCache = new TtlCache<string>(OWNER_CACHE_MS);

  constructor(private readonly store: DirectoryStore) {}

  /** Claims each name for the account; on any conflict releases what it claimed and
   *  returns the name that was taken (with, for an identity another account removed, how
   *  long it stays held). */
  async claim(
    kind: 'identity' | 'number',
    entries: { name: string; value: string }[],
  ): Promise<{ ok: true } | { ok: false; taken: string; heldSeconds?: number }> {
    const claimed: string[] = [];
    for (const e of entries) {
      const r = await this.claimOne(kind, e);
      // Re-claiming one's own entry (a retried request) is not a conflict.
      if (r.outcome === 'own') continue;
      if (r.outcome !== 'claimed') {
        await this.release(kind, claimed, entries);
        return r.outcome === 'held' ? { ok: false, taken: e.name, heldSeconds: r.secondsLeft } : { ok: false, taken: e.name };
      }
      claimed.push(e.name);
    }
    return { ok: true };
  }

  private async claimOne(kind: 'identity' | 'number', e: { name: string; value: string }) {
    // Issue #16: an identity removed from another account is held while its Voice token may live.
    if (kind === 'identity') return this.store.claimIdentity(e.name, e.value, parseIdentityValue(e.value).accountId);
    if (await this.store.claim(kind, e.name, e.value)) return { outcome: 'claimed' as const };
    return { outcome: (await this.store.owner(kind, e.name)) === e.value ? ('own' as const) : ('taken' as const) };
  }

  async release(kind: 'identity' | 'number', names: string[], entries: { name: string; value: string }[]): Promise<void> {
    for (const name of names) {
      const value = entries.find((e) => e.name === name)?.value;
      // Only delete what still points at us.
      if (value !== undefined) await this.store.releaseIfOwner(kind, name, value);
      if (kind === 'identity') this.identityCache.delete(name);
      else this.numberCache.delete(name);
    }
  }

  lookupIdentity(identity: string): Promise<{ accountId: string; staffId: string } | null> {
    return this.identityCache.getOrLoad(identity, async () => {
      const v = await this.store.owner('identity', identity);
      return v ? parseIdentityValue(v) : null;
    });
  }

  /** Issue #8: a removed staff member's softphone must not be reached by other softphones;
   *  issue #16: nor claimed by another account, while a Voice token minted for it may live.
   *  Lets the identity go only while it still points at the member. */
  async retireIdentity(identity: string, accountId: string, staffId: string): Promise<void> {
    await this.store.retireIdentity(identity, Directory.identityValue(accountId, staffId), accountId, REMOVED_IDENTITY_SECONDS);
    this.identityCache.delete(identity);
  }

  async isIdentityRemoved(identity: string): Promise<boolean> {
    return this.store.isIdentityRemoved(identity);
  }

  lookupNumber(e164: string): Promise<string | null> {
    return this.numberCache.getOrLoad(e164, () => this.store.owner('number', e164));
  }

  async rememberCall(callSid: string, accountId: string): Promise<void> {
    await this.store.rememberCall(callSid, accountId, CALL_MAP_TTL_SECONDS);
  }

  lookupCall(callSid: string): Promise<string | null> {
    return this.store.callOwner(callSid);
  }

  /** A video room belongs to the account of the first staff member seen in it. */
  async rememberRoom(roomSid: string, accountId: string): Promise<void> {
    await this.store.rememberRoom(roomSid, accountId, CALL_MAP_TTL_SECONDS);
  }

  async lookupRoom(roomSid: string): Promise<string | null> {
    return this.store.roomOwner(roomSid);
  }

  static identityValue(accountId: string, staffId: string): string {
    return `${accountId} ${staffId}`;
  }
}

function parseIdentityValue(v: string): { accountId: string; staffId: string } {
  const i = v.indexOf(' ');
  return { accountId: v.slice(0, i), staffId: v.slice(i + 1) };
}
