// What the audit (R20, src/recovery/audit.ts) asks the books: which of Twilio's calls were
// settled and archived, with what they were billed; and, when Redis no longer knows a
// softphone identity or a phone number (lost, or a staff member removed since), whose it
// was by the journal of setup writes (migrations/002_writes.sql) — the latest committed
// write that named it, voided writes aside.
import type { Db } from './connect.js';

export interface ArchivedSettlement {
  accountId: string;
  billedMinutes: number;
  billableSeconds: number;
  emergency: boolean;
}

export class AuditStore {
  constructor(private readonly db: Db) {}

  /** The archived calls among `callSids` (each CallSid is archived once). */
  async settledCalls(callSids: string[]): Promise<Map<string, ArchivedSettlement>> {
    const out = new Map<string, ArchivedSettlement>();
    if (callSids.length === 0) return out;
    const { rows } = await this.db.query<{ call_sid: string; account_id: string; billed_minutes: number; billable_seconds: number; emergency: boolean }>(
      'SELECT call_sid, account_id, billed_minutes, billable_seconds, emergency FROM calls WHERE call_sid = ANY($1::text[])',
      [callSids],
    );
    for (const r of rows) {
      out.set(r.call_sid, { accountId: r.account_id, billedMinutes: r.billed_minutes, billableSeconds: r.billable_seconds, emergency: r.emergency });
    }
    return out;
  }

  /** The account and staff member a softphone identity was last given to. */
  async identityOwner(identity: string): Promise<{ accountId: string; staffId: string } | null> {
    const { rows } = await this.db.query<{ account_id: string; staff_id: string }>(
      `SELECT account_id, member->>'id' AS staff_id FROM (
         SELECT w.account_id, s AS member, w.seq FROM writes w, jsonb_array_elements(w.payload->'staff') s
          WHERE w.kind = 'create_account' AND s->>'identity' = $1 AND NOT (coalesce(w.outcome, '{}'::jsonb) ? 'voided')
         UNION ALL
         SELECT account_id, payload->'member', seq FROM writes
          WHERE kind = 'add_staff' AND payload->'member'->>'identity' = $1 AND NOT (coalesce(outcome, '{}'::jsonb) ? 'voided')
       ) x ORDER BY seq DESC LIMIT 1`,
      [identity],
    );
    return rows[0] ? { accountId: rows[0].account_id, staffId: rows[0].staff_id } : null;
  }

  /** The account a phone number was last given to. */
  async numberOwner(e164: string): Promise<string | null> {
    const { rows } = await this.db.query<{ account_id: string }>(
      `SELECT account_id FROM writes
        WHERE ((kind = 'create_account' AND payload->'phoneNumbers' ? $1) OR (kind = 'add_numbers' AND payload->'numbers' ? $1))
          AND NOT (coalesce(outcome, '{}'::jsonb) ? 'voided')
        ORDER BY seq DESC LIMIT 1`,
      [e164],
    );
    return rows[0]?.account_id ?? null;
  }
}
