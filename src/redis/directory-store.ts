// The global lookups in Redis: softphone identity → "accountId staffId", phone number →
// account, CallSid → account, video room → account, and the marker of a removed identity.
// Each is a single key outside any account's slot. Claims are SET NX, so two accounts can
// never own the same name, and a release deletes only its own claim (a script); the caching and the claim/release decisions live in
// metering/directory.ts.
import type { Cluster, Redis } from 'ioredis';
import { directoryKeys } from './keys.js';
import { outcome } from './script-codes.js';
import type { ScriptRunner } from './scripts.js';

export type DirectoryKind = 'identity' | 'number';

export class DirectoryStore {
  private readonly k;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly scripts: ScriptRunner,
    prefix: string,
  ) {
    this.k = directoryKeys(prefix);
  }

  /** Sets the name's owner unless it has one; true when this call set it. */
  async claim(kind: DirectoryKind, name: string, value: string): Promise<boolean> {
    return (await this.redis.set(this.k[kind](name), value, 'NX')) === 'OK';
  }

  async owner(kind: DirectoryKind, name: string): Promise<string | null> {
    return this.redis.get(this.k[kind](name));
  }

  /** Deletes the name only while it still points at `value` (release-claim-1.lua). */
  async releaseIfOwner(kind: DirectoryKind, name: string, value: string): Promise<boolean> {
    return outcome('release-claim', await this.scripts.run('release-claim', [this.k[kind](name)], [value])) === 'released';
  }

  async markIdentityRemoved(identity: string, seconds: number): Promise<void> {
    await this.redis.set(this.k.removedIdentity(identity), '1', 'EX', seconds);
  }

  async clearIdentityRemoved(identity: string): Promise<void> {
    await this.redis.del(this.k.removedIdentity(identity));
  }

  async isIdentityRemoved(identity: string): Promise<boolean> {
    return (await this.redis.exists(this.k.removedIdentity(identity))) === 1;
  }

  async rememberCall(callSid: string, accountId: string, seconds: number): Promise<void> {
    await this.redis.set(this.k.call(callSid), accountId, 'EX', seconds);
  }

  async callOwner(callSid: string): Promise<string | null> {
    return this.redis.get(this.k.call(callSid));
  }

  /** The first account seen in a room keeps it. */
  async rememberRoom(roomSid: string, accountId: string, seconds: number): Promise<void> {
    await this.redis.set(this.k.room(roomSid), accountId, 'EX', seconds, 'NX');
  }

  async roomOwner(roomSid: string): Promise<string | null> {
    return this.redis.get(this.k.room(roomSid));
  }
}
