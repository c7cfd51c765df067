// The dialling decision both paths share (issue #16): the socket's `authorize`
// (softphone-authorizations.ts) and /twilio/voice (calls.ts) ask this one object, so what
// one allows the other allows. The policy itself is pure (dial-policy.ts); this adds the
// one thing it cannot know, who holds a softphone identity.
import type { Directory } from './directory.js';
import { decideDestination, mayRing, type Destination, type DialPolicy } from './dial-policy.js';

export class Dialling {
  constructor(
    private readonly policy: DialPolicy,
    private readonly directory: Directory,
  ) {}

  /** What `to` names for a caller of `accountId`: another account's softphone, one no
   *  account holds, or one removed moments ago is `denied` like a refused prefix. */
  async decide(accountId: string, to: string): Promise<Destination> {
    const d = decideDestination(this.policy, to);
    if (d.kind !== 'client') return d;
    const identity = d.target.value;
    if (!mayRing(accountId, await this.directory.lookupIdentity(identity))) return { kind: 'denied', destination: d.destination };
    // Issue #8: a removed staff member's softphone is not rung (its Voice token may live on,
    // and the identity look-up may be a cached answer from before the removal).
    if (await this.directory.isIdentityRemoved(identity)) return { kind: 'denied', destination: d.destination };
    return d;
  }
}
