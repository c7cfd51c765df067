// Issue #8: a staff member whose sockets have all closed does not keep minutes reserved
// until their authorizations' TTL. Sockets may be on several instances, so each instance
// keeps a lease per staff member it holds sockets of (a sorted set per staff member in the
// account's slot: member = this instance, score = lease expiry, renewed every LEASE_MS/3).
// When the last local socket of a staff member closes, this instance drops its lease and,
// after the grace period, asks the script to release their open authorizations — which it
// does only if no live lease of another instance remains (and skips if a socket came back
// here meanwhile). The last instance to lose a socket of theirs is the one that releases.
// An instance that crashes stops renewing; its leases run out and the authorizations
// expire at their TTL as before. Leases use wall-clock time, not the metering clock.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import type { SoftphoneAuthorizations } from '../metering/softphone-authorizations.js';

/** Where leases are kept (redis/presence-store.ts). */
export interface PresenceLeases {
  renew(accountId: string, staffId: string, instanceId: string, until: number, keepMs: number): Promise<void>;
  drop(accountId: string, staffId: string, instanceId: string): Promise<void>;
}

const LEASE_MS = 15_000;

interface Held {
  accountId: string;
  staffId: string;
  sockets: number;
  timer: NodeJS.Timeout | null;
}

export class StaffPresence {
  readonly instanceId = randomUUID();
  private readonly held = new Map<string, Held>();
  private renewal: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly leases: PresenceLeases,
    private readonly authorizations: SoftphoneAuthorizations,
    private readonly graceMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.renewal = setInterval(() => {
      for (const h of this.held.values()) if (h.sockets > 0) this.lease(h);
    }, LEASE_MS / 3);
    this.renewal.unref();
  }

  /** A socket of the staff member opened on this instance. */
  opened(accountId: string, staffId: string): void {
    const key = `${accountId} ${staffId}`;
    let h = this.held.get(key);
    if (!h) {
      h = { accountId, staffId, sockets: 0, timer: null };
      this.held.set(key, h);
    }
    h.sockets += 1;
    if (h.timer) {
      clearTimeout(h.timer);
      h.timer = null;
    }
    if (h.sockets === 1) this.lease(h);
  }

  /** A socket of the staff member closed on this instance. */
  closed(accountId: string, staffId: string): void {
    const key = `${accountId} ${staffId}`;
    const h = this.held.get(key);
    if (!h || h.sockets === 0) return;
    h.sockets -= 1;
    if (h.sockets > 0 || this.stopped) return;
    this.leases.drop(accountId, staffId, this.instanceId).catch((err: unknown) => this.log.warn('presence lease not dropped', { err }));
    h.timer = setTimeout(() => {
      h.timer = null;
      this.held.delete(key);
      void this.release(h);
    }, this.graceMs);
    h.timer.unref();
  }

  private lease(h: Held): void {
    this.leases
      .renew(h.accountId, h.staffId, this.instanceId, Date.now() + LEASE_MS, LEASE_MS * 2)
      .catch((err: unknown) => this.log.warn('presence lease not renewed', { err }));
  }

  private async release(h: Held): Promise<void> {
    try {
      await this.authorizations.releaseIfGone(h, Date.now());
    } catch (err) {
      // Not fatal: the authorizations still expire at their TTL.
      this.log.warn('open authorizations of a gone staff member not released', { err, accountId: h.accountId });
    }
  }

  /** Shutdown: clients reconnect elsewhere, so nothing is released on the way out. */
  stop(): void {
    this.stopped = true;
    if (this.renewal) clearInterval(this.renewal);
    for (const h of this.held.values()) if (h.timer) clearTimeout(h.timer);
  }
}
