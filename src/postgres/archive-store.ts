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

/** The batches of a pass in one statement, one transaction (src/jobs/archiver.ts): $1 a
 *  JSON array of {"a": accountId, "e": ArchivedEntry[], "c": ArchivedCall[]} (the records'
 *  objects as they are: their keys are the column names, instants in ms, turned into
 *  timestamptz here; no per-row copy or date string is made on the gateway). Answers how
 *  many entries and calls were new. */
export const ARCHIVE_SQL = `WITH b AS (SELECT x->>'a' AS account_id, x->'e' AS e, x->'c' AS c FROM jsonb_array_elements($1::jsonb) AS x),
ne AS (
  INSERT INTO ledger_entries (account_id, entry_id, id_ms, id_seq, kind, minutes, balance_after, ref, at, extra)
  SELECT b.account_id, e.id, split_part(e.id, '-', 1)::bigint, split_part(e.id, '-', 2)::bigint,
         e.kind, e.minutes, e."balanceAfter", e.ref, ${ts('e.at')}, e.extra
    FROM b, jsonb_to_recordset(b.e) AS e(id text, kind text, minutes int, "balanceAfter" int, ref text, at bigint, extra jsonb)
  ON CONFLICT DO NOTHING
  RETURNING 1),
nc AS (
  INSERT INTO calls (account_id, call_sid, direction, from_number, to_number, staff_id, emergency, placed_at,
                     answered_at, ended_at, settled_at, reserved_minutes, billable_seconds, billed_minutes,
                     debited_minutes, overage_minutes, cycle_start, legs, ledger_entry_id)
  SELECT b.account_id, c."callSid", c.direction, c."from", c."to", c."staffId", c.emergency, ${ts('c."placedAt"')},
         ${ts('c."answeredAt"')}, ${ts('c."endedAt"')}, ${ts('c."settledAt"')}, c."reservedMinutes",
         c."billableSeconds", c."billedMinutes", c."debitedMinutes", c."overageMinutes", ${ts('c."cycleStart"')},
         c.legs, c."ledgerEntryId"
    FROM b, jsonb_to_recordset(b.c) AS c("callSid" text, direction text, "from" text, "to" text,
         "staffId" text, emergency boolean, "placedAt" bigint, "answeredAt" bigint, "endedAt" bigint,
         "settledAt" bigint, "reservedMinutes" int, "billableSeconds" int, "billedMinutes" int,
         "debitedMinutes" int, "overageMinutes" int, "cycleStart" bigint, legs jsonb, "ledgerEntryId" text)
  -- A CallSid is archived once, whatever end instant a second writer would give it.
  -- OFFSET 0 keeps this check one index probe per row: pulled up into an anti-join, it let
  -- the planner, misled by a partition without statistics yet (every new month's), read
  -- and hash every call of the account for each batch (BENCHMARKS.md, session 24).
   WHERE NOT EXISTS (SELECT 1 FROM calls x WHERE x.account_id = b.account_id AND x.call_sid = c."callSid" OFFSET 0)
  ON CONFLICT DO NOTHING
  RETURNING 1)
SELECT (SELECT count(*) FROM ne)::int AS entries, (SELECT count(*) FROM nc)::int AS calls`;

/** One account's part of a pass. */
export interface ArchiveBatch {
  accountId: string;
  entries: ArchivedEntry[];
  calls: ArchivedCall[];
}

export class ArchiveStore {
  constructor(
    private readonly db: Db,
    private readonly partitions: Partitions,
  ) {}

  /** Writes the batches, of any number of accounts, in one transaction (one statement: no
   *  BEGIN and COMMIT round trips); returns how many entries and calls were new. A batch's
   *  own cost (the transaction, the statement planned, the commit's WAL flush) is many
   *  calls' worth, so a pass of many quiet accounts pays it once, not once each
   *  (BENCHMARKS.md, session 24). */
  async write(batches: ArchiveBatch[]): Promise<{ entries: number; calls: number }> {
    const parts = batches.filter((b) => b.entries.length > 0 || b.calls.length > 0);
    if (parts.length === 0) return { entries: 0, calls: 0 };
    await this.partitions.ensure('ledger_entries', parts.flatMap((b) => b.entries.map((e) => e.at)));
    await this.partitions.ensure('calls', parts.flatMap((b) => b.calls.map((c) => c.endedAt)));
    const doc = JSON.stringify(parts.map((b) => ({ a: b.accountId, e: b.entries, c: b.calls })));
    const r = await this.db.query<{ entries: number; calls: number }>(ARCHIVE_SQL, [doc]);
    return r.rows[0]!;
  }
}
