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

/** A ms instant of the batch's JSON as timestamptz (null stays null). */
const ts = (ms: string) => `to_timestamp(${ms} / 1000.0)`;

/** One account's ledger entries (a part of ARCHIVE_SQL): $1 the account, $2 the entries
 *  as one JSON array of ArchivedEntry (its objects as they are: the record's column names
 *  are their keys, instants in ms, turned into timestamptz here; no per-row copy or date
 *  string is made on the gateway). */
const ARCHIVE_ENTRIES_SQL = `INSERT INTO ledger_entries (account_id, entry_id, id_ms, id_seq, kind, minutes, balance_after, ref, at, extra)
   SELECT $1, e.id, split_part(e.id, '-', 1)::bigint, split_part(e.id, '-', 2)::bigint,
          e.kind, e.minutes, e."balanceAfter", e.ref, ${ts('e.at')}, e.extra
     FROM jsonb_to_recordset($2::jsonb)
          AS e(id text, kind text, minutes int, "balanceAfter" int, ref text, at bigint, extra jsonb)
   ON CONFLICT DO NOTHING`;

/** The calls those entries settled (the other part): $1 the account, $3 the calls as one
 *  JSON array of ArchivedCall. */
const ARCHIVE_CALLS_SQL = `INSERT INTO calls (account_id, call_sid, direction, from_number, to_number, staff_id, emergency, placed_at,
                      answered_at, ended_at, settled_at, reserved_minutes, billable_seconds, billed_minutes,
                      debited_minutes, overage_minutes, cycle_start, legs, ledger_entry_id)
   SELECT $1, c."callSid", c.direction, c."from", c."to", c."staffId", c.emergency, ${ts('c."placedAt"')},
          ${ts('c."answeredAt"')}, ${ts('c."endedAt"')}, ${ts('c."settledAt"')}, c."reservedMinutes",
          c."billableSeconds", c."billedMinutes", c."debitedMinutes", c."overageMinutes", ${ts('c."cycleStart"')},
          c.legs, c."ledgerEntryId"
     FROM jsonb_to_recordset($3::jsonb) AS c("callSid" text, direction text, "from" text, "to" text,
          "staffId" text, emergency boolean, "placedAt" bigint, "answeredAt" bigint, "endedAt" bigint,
          "settledAt" bigint, "reservedMinutes" int, "billableSeconds" int, "billedMinutes" int,
          "debitedMinutes" int, "overageMinutes" int, "cycleStart" bigint, legs jsonb, "ledgerEntryId" text)
   -- A CallSid is archived once, whatever end instant a second writer would give it.
   -- OFFSET 0 keeps this check one index probe per row of the batch: pulled up into an
   -- anti-join, it let the planner, misled by a partition without statistics yet (every
   -- new month's), read and hash every call of the account for each batch
   -- (BENCHMARKS.md, session 24).
    WHERE NOT EXISTS (SELECT 1 FROM calls x WHERE x.account_id = $1 AND x.call_sid = c."callSid" OFFSET 0)
   ON CONFLICT DO NOTHING`;

/** The batch in one statement: $1 the account, $2 its entries, $3 its calls (each a JSON
 *  array, possibly empty); answers how many of each were new. */
export const ARCHIVE_SQL = `WITH e AS (${ARCHIVE_ENTRIES_SQL} RETURNING 1), c AS (${ARCHIVE_CALLS_SQL} RETURNING 1)
SELECT (SELECT count(*) FROM e)::int AS entries, (SELECT count(*) FROM c)::int AS calls`;

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
    // One statement, so one transaction without BEGIN and COMMIT round trips: a batch's own
    // cost, which a quiet account pays for its every call, fell by 10–20% in PostgreSQL and
    // 20–30% here (BENCHMARKS.md, session 24).
    const r = await this.db.query<{ entries: number; calls: number }>(ARCHIVE_SQL, [accountId, JSON.stringify(entries), JSON.stringify(calls)]);
    return r.rows[0]!;
  }
}
