// The calls refused at placement (migrations/004_refused_calls.sql), written in batches,
// idempotently by CallSid (read back by history-store.ts).
import type { Db } from './connect.js';
import type { Partitions } from './partitions.js';

export interface RefusedCall {
  accountId: string;
  callSid: string;
  direction: string;
  from: string;
  to: string;
  staffId: string | null;
  reason: string;
  /** ms */
  refusedAt: number;
}

export class RefusalStore {
  constructor(
    private readonly db: Db,
    private readonly partitions: Partitions,
  ) {}

  async write(calls: RefusedCall[]): Promise<number> {
    if (calls.length === 0) return 0;
    await this.partitions.ensure('refused_calls', calls.map((c) => c.refusedAt));
    const r = await this.db.query(
      `INSERT INTO refused_calls (account_id, call_sid, direction, from_number, to_number, staff_id, reason, refused_at)
       SELECT c."accountId", c."callSid", c.direction, c."from", c."to", c."staffId", c.reason, to_timestamp(c."refusedAt" / 1000.0)
         FROM jsonb_to_recordset($1::jsonb) AS c("accountId" text, "callSid" text, direction text, "from" text, "to" text,
              "staffId" text, reason text, "refusedAt" bigint)
       ON CONFLICT DO NOTHING`,
      [JSON.stringify(calls)],
    );
    return r.rowCount ?? 0;
  }
}
