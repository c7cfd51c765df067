// Writes the archive (R19, issue #17 §3): a batch of one account's ledger entries and the
// calls they settled, in one transaction, idempotently (ON CONFLICT DO NOTHING on the
// entry's stream id and on the CallSid), so a batch written twice — two instances, or one
// killed after its commit and before it told Redis — leaves each row once.
import type { Db } from './connect.js';
import type { CallRecord } from './history-store.js';
import type { Partitions } from './partitions.js';

export interface ArchivedEntry {
  /** The Redis stream id "<ms>-<seq>". */
  id: string;
  kind: string;
  minutes: number;
  balanceAfter: number;
  ref: string;
  /** ms */
  at: number;
  /** Every other field of the entry, as the stream held it. */
  extra: Record<string, string>;
}

/** A settled call's detail record as archived: what the history reads back, and more. */
export interface ArchivedCall extends CallRecord {
  emergency: boolean;
  legs: unknown[];
  ledgerEntryId: string;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export class ArchiveStore {
  constructor(
    private readonly db: Db,
    private readonly partitions: Partitions,
  ) {}

  /** Writes the batch in one transaction; returns how many entries and calls were new. */
  async write(accountId: string, entries: ArchivedEntry[], calls: ArchivedCall[]): Promise<{ entries: number; calls: number }> {
    if (entries.length === 0 && calls.length === 0) return { entries: 0, calls: 0 };
    await this.partitions.ensure('ledger_entries', entries.map((e) => e.at));
    await this.partitions.ensure('calls', calls.map((c) => c.endedAt));
    const client = await this.db.connect();
    try {
      await client.query('BEGIN');
      let newEntries = 0;
      if (entries.length > 0) {
        const r = await client.query(
          `INSERT INTO ledger_entries (account_id, entry_id, id_ms, id_seq, kind, minutes, balance_after, ref, at, extra)
           SELECT $1, e.id, split_part(e.id, '-', 1)::bigint, split_part(e.id, '-', 2)::bigint,
                  e.kind, e.minutes, e.balance_after, e.ref, e.at, e.extra
             FROM jsonb_to_recordset($2::jsonb)
                  AS e(id text, kind text, minutes int, balance_after int, ref text, at timestamptz, extra jsonb)
           ON CONFLICT DO NOTHING`,
          [
            accountId,
            JSON.stringify(
              entries.map((e) => ({ id: e.id, kind: e.kind, minutes: e.minutes, balance_after: e.balanceAfter, ref: e.ref, at: iso(e.at), extra: e.extra })),
            ),
          ],
        );
        newEntries = r.rowCount ?? 0;
      }
      let newCalls = 0;
      if (calls.length > 0) {
        const r = await client.query(
          `INSERT INTO calls (account_id, call_sid, direction, from_number, to_number, staff_id, emergency, placed_at,
                              answered_at, ended_at, settled_at, reserved_minutes, billable_seconds, billed_minutes,
                              debited_minutes, overage_minutes, cycle_start, legs, ledger_entry_id)
           SELECT $1, c.call_sid, c.direction, c.from_number, c.to_number, c.staff_id, c.emergency, c.placed_at,
                  c.answered_at, c.ended_at, c.settled_at, c.reserved_minutes, c.billable_seconds, c.billed_minutes,
                  c.debited_minutes, c.overage_minutes, c.cycle_start, c.legs, c.ledger_entry_id
             FROM jsonb_to_recordset($2::jsonb) AS c(call_sid text, direction text, from_number text, to_number text,
                  staff_id text, emergency boolean, placed_at timestamptz, answered_at timestamptz, ended_at timestamptz,
                  settled_at timestamptz, reserved_minutes int, billable_seconds int, billed_minutes int,
                  debited_minutes int, overage_minutes int, cycle_start timestamptz, legs jsonb, ledger_entry_id text)
           -- A CallSid is archived once, whatever end instant a second writer would give it.
            WHERE NOT EXISTS (SELECT 1 FROM calls x WHERE x.account_id = $1 AND x.call_sid = c.call_sid)
           ON CONFLICT DO NOTHING`,
          [
            accountId,
            JSON.stringify(
              calls.map((c) => ({
                call_sid: c.callSid,
                direction: c.direction,
                from_number: c.from,
                to_number: c.to,
                staff_id: c.staffId,
                emergency: c.emergency,
                placed_at: iso(c.placedAt),
                answered_at: iso(c.answeredAt),
                ended_at: iso(c.endedAt),
                settled_at: iso(c.settledAt),
                reserved_minutes: c.reservedMinutes,
                billable_seconds: c.billableSeconds,
                billed_minutes: c.billedMinutes,
                debited_minutes: c.debitedMinutes,
                overage_minutes: c.overageMinutes,
                cycle_start: iso(c.cycleStart),
                legs: c.legs,
                ledger_entry_id: c.ledgerEntryId,
              })),
            ),
          ],
        );
        newCalls = r.rowCount ?? 0;
      }
      await client.query('COMMIT');
      return { entries: newEntries, calls: newCalls };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }
}
