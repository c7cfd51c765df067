// Issue #8: a staff member removed, or their tokens revoked, on any instance loses their
// sockets on every instance. Each instance re-reads, on a timer, the token generation of
// every staff member it holds sockets of (one HMGET per account) and closes the sockets
// whose token is older with 4003. A timer rather than a pub/sub event: nothing to miss
// across reconnects, and its cost is one small read per account every few seconds.
import type { StaffAccess } from '../auth/staff-access.js';
import type { ClientConnection } from './client-connection.js';
import { CLOSE } from './protocol.js';

export async function recheckStaffAccess(clients: Iterable<ClientConnection>, access: StaffAccess): Promise<number> {
  const staff: ClientConnection[] = [];
  for (const c of clients) if (c.principal.kind === 'staff' && c.isOpen) staff.push(c);
  if (staff.length === 0) return 0;
  const gens = await access.refresh(
    staff.map((c) => {
      const p = c.principal as { accountId: string; staffId: string };
      return { accountId: p.accountId, staffId: p.staffId };
    }),
  );
  let closed = 0;
  for (const c of staff) {
    const p = c.principal as { accountId: string; staffId: string; gen?: number };
    const current = gens.get(`${p.accountId} ${p.staffId}`) ?? 0;
    if ((p.gen ?? 0) < current) {
      c.close(CLOSE.ACCESS_REVOKED, 'ACCESS_REVOKED: staff member removed or token revoked');
      closed += 1;
    }
  }
  return closed;
}
