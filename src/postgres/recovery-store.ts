// Reads what a restore needs from the books (R20): which accounts exist (their first
// create_account write, applied), and per account its applied journal writes and a summary
// of its archived ledger — the last entry, every cycle reset, the call_debits booked in each
// cycle, the balance moves of the cycle it is in, and which of the entries writes book are
// archived. The fold itself is recovery/rebuild.ts's. Queries run on the connection that
// holds the account's journal lock (JournalStore.withAccountLock), so no write of the
// account is applied meanwhile.
import type { ArchivedLedgerEntry, AccountBooks, CycleTotals, JournalRecord } from '../recovery/rebuild.js';
import type { Db, DbClient } from './connect.js';

interface EntryRow {
  entry_id: string;
  kind: string;
  minutes: number;
  balance_after: number;
  ref: string;
  at: Date;
  extra: Record<string, string>;
}

const entryOf = (r: EntryRow): ArchivedLedgerEntry => ({
  id: r.entry_id,
  kind: r.kind,
  minutes: r.minutes,
  balanceAfter: r.balance_after,
  ref: r.ref,
  at: r.at.getTime(),
  extra: r.extra ?? {},
});

const ENTRY_COLUMNS = 'entry_id, kind, minutes, balance_after, ref, at, extra';

/** A write refused by the live store and voided (books/writes.ts) changed nothing. */
const NOT_VOIDED = "(outcome IS NULL OR NOT (jsonb_typeof(outcome) = 'object' AND outcome ? 'voided'))";

export class RecoveryStore {
  constructor(private readonly db: Db) {}

  /** Every account the books know: one whose create_account write was applied (the
   *  first such write created it, whatever a repeat after a crash answered). */
  async accountIds(): Promise<string[]> {
    const { rows } = await this.db.query<{ account_id: string }>(
      `SELECT DISTINCT account_id FROM writes
        WHERE kind = 'create_account' AND applied_at IS NOT NULL AND ${NOT_VOIDED}
        ORDER BY account_id`,
    );
    return rows.map((r) => r.account_id);
  }

  /** What the books hold of the account (reads on `c`, the connection holding its lock). */
  async accountBooks(c: DbClient, accountId: string): Promise<AccountBooks> {
    const writes = await c.query<{ seq: number; kind: string; payload: unknown; outcome: unknown; created_at: Date }>(
      `SELECT seq, kind, payload, outcome, created_at FROM writes
        WHERE account_id = $1 AND applied_at IS NOT NULL AND kind <> 'quote' ORDER BY seq`,
      [accountId],
    );
    const tail = await c.query<EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM ledger_entries WHERE account_id = $1 ORDER BY id_ms DESC, id_seq DESC LIMIT 1`,
      [accountId],
    );
    const resets = await c.query<EntryRow & { id_ms: number; id_seq: number }>(
      `SELECT ${ENTRY_COLUMNS}, id_ms, id_seq FROM ledger_entries WHERE account_id = $1 AND kind = 'cycle_reset' ORDER BY id_ms, id_seq`,
      [accountId],
    );
    const totals = await c.query<{ cycle_start: string; used: number; overage: number; late_debited: number }>(
      `SELECT extra->>'cycleStart' AS cycle_start,
              sum(coalesce((extra->>'billedMinutes')::int, 0))::int AS used,
              sum(coalesce((extra->>'overageMinutes')::int, 0))::int AS overage,
              sum(CASE WHEN extra->>'late' = '1' THEN coalesce((extra->>'debitedMinutes')::int, 0) ELSE 0 END)::int AS late_debited
         FROM ledger_entries
        WHERE account_id = $1 AND kind = 'call_debit' AND extra ? 'cycleStart'
        GROUP BY 1`,
      [accountId],
    );
    const last = resets.rows[resets.rows.length - 1];
    const moves = last
      ? await c.query<{ minutes: number; balance_after: number; at: Date }>(
          `SELECT minutes, balance_after, at FROM ledger_entries
            WHERE account_id = $1 AND (id_ms, id_seq) >= ($2, $3) AND minutes <> 0 ORDER BY id_ms, id_seq`,
          [accountId, last.id_ms, last.id_seq],
        )
      : { rows: [] };
    const refs = await c.query<{ ref: string }>(
      `SELECT ref FROM ledger_entries WHERE account_id = $1 AND kind IN ('purchase', 'adjustment', 'plan_upgrade')`,
      [accountId],
    );
    return {
      accountId,
      writes: writes.rows.map(
        (r): JournalRecord => ({ seq: r.seq, kind: r.kind, payload: r.payload, outcome: r.outcome, createdAt: r.created_at.getTime() }),
      ),
      tail: tail.rows[0] ? entryOf(tail.rows[0]) : null,
      resets: resets.rows.map(entryOf),
      cycleTotals: totals.rows.map(
        (r): CycleTotals => ({ cycleStart: Number(r.cycle_start), used: r.used, overage: r.overage, lateDebited: r.late_debited }),
      ),
      currentMoves: moves.rows.map((r) => ({ minutes: r.minutes, balanceAfter: r.balance_after, at: r.at.getTime() })),
      archivedRefs: new Set(refs.rows.map((r) => r.ref)),
    };
  }
}
