// Issue #16: how many client sockets each staff member holds on this instance, so one
// staff token cannot open sockets without bound (each costs memory and a share of every
// broadcast). Counted per instance: the bound is WS_MAX_SOCKETS_PER_STAFF on each.
// The operator's key is not a staff member and is not counted.
import type { Principal } from '../http/auth.js';

export class StaffSockets {
  private readonly open = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Whether one more socket of this principal may be opened now. */
  hasRoom(p: Principal): boolean {
    return p.kind !== 'staff' || (this.open.get(key(p)) ?? 0) < this.max;
  }

  /** Counts a socket in; false (and not counted) when the bound is reached. */
  add(p: Principal): boolean {
    if (p.kind !== 'staff') return true;
    const k = key(p);
    const n = this.open.get(k) ?? 0;
    if (n >= this.max) return false;
    this.open.set(k, n + 1);
    return true;
  }

  /** A socket counted in by add() closed: its slot is free. */
  remove(p: Principal): void {
    if (p.kind !== 'staff') return;
    const k = key(p);
    const n = (this.open.get(k) ?? 0) - 1;
    if (n > 0) this.open.set(k, n);
    else this.open.delete(k);
  }
}

// A space never occurs in an account id, so no two staff members share a key.
const key = (p: { accountId: string; staffId: string }) => `${p.accountId} ${p.staffId}`;
