// The global lookups in Redis: softphone identity → "accountId staffId", phone number →
// account, CallSid → account, video room → account, and the marker of a removed identity.
// Each is a single key outside any account's slot (an identity's marker shares its slot).
// Claims are SET NX (an identity's a script that also reads its marker), so two accounts
// can never own the same name, and a release deletes only its own claim (a script); the
// caching and the claim/release decisions live in metering/directory.ts.
import type { Cluster, Redis } from 'ioredis';
import { command } from './command.js';
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

  /** Claims an identity for `value` ("accountId staffId") unless someone owns it or another
   *  account removed it less than the hold ago (claim-identity-2.lua). */
  async claimIdentity(
    identity: string,
    value: string,
    accountId: string,
  ): Promise<{ outcome: 'claimed' | 'own' | 'taken' } | { outcome: 'held'; secondsLeft: number }> {
    const reply = await this.scripts.run('claim-identity', this.identityKeys(identity), [value, accountId]);
    const o = outcome('claim-identity', reply);
    return o === 'held' ? { outcome: o, secondsLeft: Number(reply[1]) } : { outcome: o };
  }

  /** Lets a removed member's identity go and holds it for their account for `seconds`
   *  (retire-identity-2.lua); false when it belongs to someone else. */
  async retireIdentity(identity: string, value: string, accountId: string, seconds: number): Promise<boolean> {
    const reply = await this.scripts.run('retire-identity', this.identityKeys(identity), [value, accountId, seconds]);
    return outcome('retire-identity', reply) === 'retired';
  }

  /** Removed and not claimed again: nobody owns it while its removal marker lives. */
  async isIdentityRemoved(identity: string): Promise<boolean> {
    const [owner, removedBy] = await this.redis.mget(...this.identityKeys(identity));
    return owner === null && removedBy !== null;
  }

  /** The identity's key and its removal marker, in one cluster slot. */
  private identityKeys(identity: string): [string, string] {
    return [this.k.identity(identity), this.k.removedIdentity(identity)];
  }

  async rememberCall(callSid: string, accountId: string, seconds: number): Promise<void> {
    await command(this.redis, 'set', [this.k.call(callSid), accountId, 'EX', seconds]);
  }

  async callOwner(callSid: string): Promise<string | null> {
    return command(this.redis, 'get', [this.k.call(callSid)]) as Promise<string | null>;
  }

  /** The first account seen in a room keeps it. */
  async rememberRoom(roomSid: string, accountId: string, seconds: number): Promise<void> {
    await this.redis.set(this.k.room(roomSid), accountId, 'EX', seconds, 'NX');
  }

  async roomOwner(roomSid: string): Promise<string | null> {
    return this.redis.get(this.k.room(roomSid));
  }
}
