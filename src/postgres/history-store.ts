// Reads the archive back (issue #17 §5): an account's ledger entries in stream-id order,
// its settled calls newest first or by end instant, one call, and a cycle's usage summed.
// Every read takes its own connection and gives it back at once (no transaction is held
// between pages, so a slow reader of an export never holds a connection). CallSids break
// ties byte-wise (COLLATE "C"), as the history use case compares them when it merges these
// rows with Redis. Answers BooksUnavailable (postgres/unavailable.ts) when PostgreSQL is
// away; any other error is a bug and is thrown as it is.
import type { Db, DbClient } from './connect.js';
import type { RefusedCall } from './refusal-store.js';
import { BooksUnavailable, isBooksAway } from './unavailable.js';

/** A ledger entry as the Redis stream holds it: its id and its fields as strings. */
export interface LedgerRow {
  id: string;
  fields: Record<string, string>;
}

/** A settled call's detail record (instants in ms). */
export interface CallRecord {
  callSid: string;
  direction: string;
  from: string;
  to: string;
  staffId: string | null;
  placedAt: number;
  answeredAt: number | null;
  /** When the call ended (R16). */
  endedAt: number;
  /** When the gateway settled it: the order of GET …/calls. */
  settledAt: number;
  reservedMinutes: number;
  billableSeconds: number;
  billedMinutes: number;
  debitedMinutes: number;
  overageMinutes: number;
  cycleStart: number;
}

export interface UsageRow {
  /** The staff member's id ("" for none) or the UTC day "YYYY-MM-DD" the call ended. */
  key: string;
  calls: number;
  billableSeconds: number;
  billedMinutes: number;
}

const I64_MAX = (1n << 63n) - 1n;

const CALL_COLUMNS = `call_sid, direction, from_number, to_number, staff_id, placed_at, answered_at, ended_at, settled_at,
  reserved_minutes, billable_seconds, billed_minutes, debited_minutes, overage_minutes, cycle_start`;

interface CallRow {
  call_sid: string;
  direction: string;
  from_number: string;
  to_number: string;
  staff_id: string | null;
  placed_at: Date;
  answered_at: Date | null;
  ended_at: Date;
  settled_at: Date;
  reserved_minutes: number;
  billable_seconds: number;
  billed_minutes: number;
  debited_minutes: number;
  overage_minutes: number;
  cycle_start: Date;
}

function callRecord(r: CallRow): CallRecord {
  return {
    callSid: r.call_sid,
    direction: r.direction,
    from: r.from_number,
    to: r.to_number,
    staffId: r.staff_id,
    placedAt: r.placed_at.getTime(),
    answeredAt: r.answered_at ? r.answered_at.getTime() : null,
    endedAt: r.ended_at.getTime(),
    settledAt: r.settled_at.getTime(),
    reservedMinutes: r.reserved_minutes,
    billableSeconds: r.billable_seconds,
    billedMinutes: r.billed_minutes,
    debitedMinutes: r.debited_minutes,
    overageMinutes: r.overage_minutes,
    cycleStart: r.cycle_start.getTime(),
  };
}

export class HistoryStore {
  constructor(
    private readonly db: Db,
    /** Whether the books were opened (schema in place); until then every read is "away". */
    private readonly isOpen: () => boolean,
  ) {}

  private async run<T>(fn: (c: DbClient) => Promise<T>): Promise<T> {
    if (!this.isOpen()) throw new BooksUnavailable();
    let client: DbClient;
    try {
      client = await this.db.connect();
    } catch (err) {
      throw new BooksUnavailable(err);
    }
    try {
      const out = await fn(client);
      client.release();
      return out;
    } catch (err) {
      // A connection that failed is not given back to the pool for reuse.
      client.release(err as Error);
      throw isBooksAway(err) ? new BooksUnavailable(err) : err;
    }
  }

  /** Up to `count` of the account's entries after the stream id `after` (exclusive; from
   *  the start when absent), in id order ("asc") or reverse ("desc"). A cursor may name any
   *  unsigned 64-bit id; PostgreSQL's bigint ends at 2^63 − 1, past which no entry lies. */
  async ledger(accountId: string, order: 'asc' | 'desc', after: string | undefined, count: number): Promise<LedgerRow[]> {
    let bound = '';
    const params: unknown[] = [accountId, count];
    if (after) {
      const [ms, seq] = after.split('-').map((p) => BigInt(p)) as [bigint, bigint];
      if (ms > I64_MAX) {
        if (order === 'asc') return [];
      } else {
        params.push(ms.toString(), (seq > I64_MAX ? I64_MAX : seq).toString());
        bound = `AND (id_ms, id_seq) ${order === 'asc' ? '>' : '<'} ($3, $4)`;
      }
    }
    const dir = order === 'asc' ? 'ASC' : 'DESC';
    const { rows } = await this.run((c) =>
      c.query<{ entry_id: string; kind: string; minutes: number; balance_after: number; ref: string; at: Date; extra: Record<string, string> }>(
        `SELECT entry_id, kind, minutes, balance_after, ref, at, extra FROM ledger_entries
          WHERE account_id = $1 ${bound} ORDER BY id_ms ${dir}, id_seq ${dir} LIMIT $2`,
        params,
      ),
    );
    // The fields as the stream held them, so one view maps entries from either store.
    return rows.map((r) => ({
      id: r.entry_id,
      fields: { kind: r.kind, minutes: String(r.minutes), balanceAfter: String(r.balance_after), ref: r.ref, at: String(r.at.getTime()), ...r.extra },
    }));
  }

  /** Up to `count` settled calls, newest settled first (CallSid descending on a tie),
   *  strictly before `before` when given. */
  /** The account's calls refused at placement, newest first, before the cursor. */
  async refusedCalls(accountId: string, before: { refusedAt: number; callSid: string } | null, count: number): Promise<RefusedCall[]> {
    const params: unknown[] = [accountId, count];
    let bound = '';
    if (before) {
      params.push(new Date(before.refusedAt), before.callSid);
      bound = 'AND refused_at <= $3 AND (refused_at < $3 OR call_sid COLLATE "C" < $4)';
    }
    const { rows } = await this.run((c) =>
      c.query<{ call_sid: string; direction: string; from_number: string; to_number: string; staff_id: string | null; reason: string; refused_at: Date }>(
        `SELECT call_sid, direction, from_number, to_number, staff_id, reason, refused_at FROM refused_calls
          WHERE account_id = $1 ${bound} ORDER BY refused_at DESC, call_sid COLLATE "C" DESC LIMIT $2`,
        params,
      ),
    );
    return rows.map((r) => ({
      accountId,
      callSid: r.call_sid,
      direction: r.direction,
      from: r.from_number,
      to: r.to_number,
      staffId: r.staff_id,
      reason: r.reason,
      refusedAt: r.refused_at.getTime(),
    }));
  }

  async settledCalls(accountId: string, before: { settledAt: number; callSid: string } | null, count: number): Promise<CallRecord[]> {
    const params: unknown[] = [accountId, count];
    let bound = '';
    if (before) {
      params.push(new Date(before.settledAt), before.callSid);
      bound = 'AND settled_at <= $3 AND (settled_at < $3 OR call_sid COLLATE "C" < $4)';
    }
    const { rows } = await this.run((c) =>
      c.query<CallRow>(
        `SELECT ${CALL_COLUMNS} FROM calls WHERE account_id = $1 ${bound}
          ORDER BY settled_at DESC, call_sid COLLATE "C" DESC LIMIT $2`,
        params,
      ),
    );
    return rows.map(callRecord);
  }

  async call(accountId: string, callSid: string): Promise<CallRecord | null> {
    const { rows } = await this.run((c) =>
      c.query<CallRow>(`SELECT ${CALL_COLUMNS} FROM calls WHERE account_id = $1 AND call_sid = $2 LIMIT 1`, [accountId, callSid]),
    );
    return rows[0] ? callRecord(rows[0]) : null;
  }

  /** The calls booked in the cycle starting `cycleStart` (R16), summed by staff member or
   *  by the UTC day they ended, leaving out the CallSids in `excluding` (the caller counts
   *  those from Redis). */
  async usage(accountId: string, cycleStart: number, groupBy: 'staff' | 'day', excluding: string[]): Promise<UsageRow[]> {
    const key = groupBy === 'day' ? `to_char(ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')` : `coalesce(staff_id, '')`;
    const { rows } = await this.run((c) =>
      c.query<UsageRow>(
        `SELECT ${key} AS key, count(*) AS calls, sum(billable_seconds) AS "billableSeconds", sum(billed_minutes) AS "billedMinutes"
           FROM calls WHERE account_id = $1 AND cycle_start = $2 AND NOT (call_sid = ANY($3::text[]))
          GROUP BY 1`,
        [accountId, new Date(cycleStart), excluding],
      ),
    );
    return rows;
  }

  /** Up to `count` calls that ended in [from, to), by end instant then CallSid, after
   *  `after` when given (keyset paging: each page is one short query), leaving out the
   *  CallSids in `excluding`. */
  async callsEnded(
    accountId: string,
    window: { from: number; to: number },
    after: { endedAt: number; callSid: string } | null,
    count: number,
    excluding: string[],
  ): Promise<CallRecord[]> {
    const params: unknown[] = [accountId, new Date(after ? after.endedAt : window.from), new Date(window.to), excluding, count];
    let bound = '';
    if (after) {
      params.push(after.callSid);
      bound = 'AND (ended_at > $2 OR call_sid COLLATE "C" > $6)';
    }
    const { rows } = await this.run((c) =>
      c.query<CallRow>(
        `SELECT ${CALL_COLUMNS} FROM calls
          WHERE account_id = $1 AND ended_at >= $2 AND ended_at < $3 AND NOT (call_sid = ANY($4::text[])) ${bound}
          ORDER BY ended_at, call_sid COLLATE "C" LIMIT $5`,
        params,
      ),
    );
    return rows.map(callRecord);
  }
}
