// The journal of committed writes (migrations/002_writes.sql): commit one, read an
// account's pending ones in order, mark one applied with its outcome, and hold an account's
// advisory lock while its writes are applied to Redis, so they apply once each and in
// order across every instance.
import type { Db, DbClient } from './connect.js';

export interface JournalWrite {
  seq: number;
  accountId: string;
  kind: string;
  payload: unknown;
  appliedAt: Date | null;
  outcome: unknown;
}

interface Row {
  seq: number;
  account_id: string;
  kind: string;
  payload: unknown;
  applied_at: Date | null;
  outcome: unknown;
}

const toWrite = (r: Row): JournalWrite => ({ seq: r.seq, accountId: r.account_id, kind: r.kind, payload: r.payload, appliedAt: r.applied_at, outcome: r.outcome });

export class JournalStore {
  constructor(private readonly db: Db) {}

  /** Commits the write; its sequence number orders it among the account's writes. */
  async commit(accountId: string, kind: string, payload: unknown): Promise<number> {
    const { rows } = await this.db.query<{ seq: number }>('INSERT INTO writes (account_id, kind, payload) VALUES ($1, $2, $3) RETURNING seq', [
      accountId,
      kind,
      JSON.stringify(payload),
    ]);
    return rows[0]!.seq;
  }

  /** Runs `fn` holding the account's advisory lock, on a connection of its own. */
  async withAccountLock<T>(accountId: string, fn: (c: DbClient) => Promise<T>): Promise<T> {
    const client = await this.db.connect();
    let locked = false;
    try {
      await client.query("SELECT pg_advisory_lock(hashtext('minutegate writes ' || $1))", [accountId]);
      locked = true;
      return await fn(client);
    } finally {
      if (locked) await client.query("SELECT pg_advisory_unlock(hashtext('minutegate writes ' || $1))", [accountId]).catch(() => {});
      client.release();
    }
  }

  /** The account's writes not applied yet, up to `throughSeq`, in order. */
  async pending(c: DbClient, accountId: string, throughSeq: number): Promise<JournalWrite[]> {
    const { rows } = await c.query<Row>(
      'SELECT seq, account_id, kind, payload, applied_at, outcome FROM writes WHERE account_id = $1 AND applied_at IS NULL AND seq <= $2 ORDER BY seq',
      [accountId, throughSeq],
    );
    return rows.map(toWrite);
  }

  async one(c: DbClient, seq: number): Promise<JournalWrite | null> {
    const { rows } = await c.query<Row>('SELECT seq, account_id, kind, payload, applied_at, outcome FROM writes WHERE seq = $1', [seq]);
    return rows[0] ? toWrite(rows[0]) : null;
  }

  async markApplied(c: DbClient, seq: number, outcome: unknown): Promise<void> {
    await c.query('UPDATE writes SET applied_at = now(), outcome = $2 WHERE seq = $1', [seq, JSON.stringify(outcome ?? null)]);
  }

  /** Accounts with a write committed at least `olderThanMs` ago and not applied yet. */
  async accountsWithPending(olderThanMs: number, max = 100): Promise<string[]> {
    const { rows } = await this.db.query<{ account_id: string }>(
      `SELECT DISTINCT account_id FROM writes WHERE applied_at IS NULL AND created_at < now() - make_interval(secs => $1) LIMIT $2`,
      [olderThanMs / 1000, max],
    );
    return rows.map((r) => r.account_id);
  }

  /** How many writes wait to be applied (for /metrics). */
  async pendingCount(): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM writes WHERE applied_at IS NULL');
    return rows[0]!.n;
  }
}
