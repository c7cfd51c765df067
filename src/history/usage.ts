// GET …/usage (issue #17 §5): a cycle's calls summed by staff member or by UTC day. A call
// belongs to the cycle it was booked in (its cycleStart, R16), whatever day it ended; every
// settled call counts, billed or free. The figures are current: the calls settled but not
// archived yet are read from Redis and counted once (PostgreSQL leaves them out by CallSid).
import { cycleContaining } from '../domain/cycle.js';
import { notFound } from '../domain/errors.js';
import type { BalanceView } from '../accounts/views.js';
import type { HistoryStore, UsageRow } from '../postgres/history-store.js';
import type { AccountStore } from '../redis/account-store.js';
import type { ArchiveQueue } from '../redis/archive-queue.js';
import { fromBooksOr503 } from './history.js';
import { unarchivedCalls } from './unarchived-calls.js';

/** The key of calls no staff member placed (inbound calls: which softphone answered is not recorded). */
export const UNASSIGNED = 'unassigned';

export interface UsageFigures {
  calls: number;
  billableSeconds: number;
  billedMinutes: number;
}

export interface UsageView {
  cycleStart: string;
  cycleEnd: string;
  groupBy: 'staff' | 'day';
  groups: (UsageFigures & { key: string })[];
  totals: UsageFigures;
}

export class Usage {
  constructor(
    /** The pool's snapshot (a due reset applied first), for the current cycle's bounds. */
    private readonly balance: (accountId: string) => Promise<BalanceView>,
    private readonly records: AccountStore,
    private readonly queue: ArchiveQueue,
    private readonly books: HistoryStore,
  ) {}

  async usage(accountId: string, which: 'current' | 'previous', groupBy: 'staff' | 'day'): Promise<UsageView> {
    const snap = await this.balance(accountId);
    let cycle = { start: Date.parse(snap.cycleStart), end: Date.parse(snap.cycleEnd) };
    if (which === 'previous') {
      const { anchor } = await this.records.record(accountId);
      if (anchor === null) throw notFound(`account ${accountId}`);
      cycle = cycleContaining(Number(anchor), cycle.start - 1);
    }
    // Redis first: a call archived meanwhile is then in both, and counted from Redis.
    const recent = await unarchivedCalls(this.queue, accountId);
    const archived = await fromBooksOr503(() =>
      this.books.usage(accountId, cycle.start, groupBy, recent.map((c) => c.callSid)),
    );
    const groups = new Map<string, UsageFigures>();
    const add = (key: string, f: UsageFigures) => {
      const g = groups.get(key) ?? { calls: 0, billableSeconds: 0, billedMinutes: 0 };
      g.calls += f.calls;
      g.billableSeconds += f.billableSeconds;
      g.billedMinutes += f.billedMinutes;
      groups.set(key, g);
    };
    const keyOf = (staffOrDay: string) => (groupBy === 'staff' && staffOrDay === '' ? UNASSIGNED : staffOrDay);
    for (const r of archived as UsageRow[]) add(keyOf(r.key), r);
    for (const c of recent) {
      if (c.cycleStart !== cycle.start) continue;
      add(keyOf(groupBy === 'day' ? new Date(c.endedAt).toISOString().slice(0, 10) : (c.staffId ?? '')), {
        calls: 1,
        billableSeconds: c.billableSeconds,
        billedMinutes: c.billedMinutes,
      });
    }
    // Staff in id order with the unassigned calls last; days in order.
    const rank = (k: string) => (groupBy === 'staff' && k === UNASSIGNED ? 1 : 0);
    const sorted = [...groups.entries()]
      .sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, f]) => ({ key, ...f }));
    const totals = { calls: 0, billableSeconds: 0, billedMinutes: 0 };
    for (const g of sorted) {
      totals.calls += g.calls;
      totals.billableSeconds += g.billableSeconds;
      totals.billedMinutes += g.billedMinutes;
    }
    return {
      cycleStart: new Date(cycle.start).toISOString(),
      cycleEnd: new Date(cycle.end).toISOString(),
      groupBy,
      groups: sorted,
      totals,
    };
  }
}
