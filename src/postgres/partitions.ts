// Monthly partitions of the archive's tables (ledger_entries by `at`, calls by `ended_at`,
// refused_calls by `refused_at`):
// created on demand before rows of a month are written, and dropped whole once older than
// HISTORY_RETENTION_MONTHS. Creation takes a transaction-scoped advisory lock so two
// instances creating the same month never collide.
import pg from 'pg';
import type { Db } from './connect.js';

export const PARTITIONED_TABLES = ['ledger_entries', 'calls', 'refused_calls'] as const;
export type PartitionedTable = (typeof PARTITIONED_TABLES)[number];

/** Key of the month holding `ms` (UTC), e.g. "2026-12". */
export function monthOf(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

function monthBounds(month: string): { from: string; to: string; suffix: string } {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const from = new Date(Date.UTC(y, m - 1, 1)).toISOString();
  const to = new Date(Date.UTC(y, m, 1)).toISOString();
  return { from, to, suffix: `y${y}m${String(m).padStart(2, '0')}` };
}

export class Partitions {
  private readonly known = new Set<string>();

  constructor(private readonly db: Db) {}

  /** Makes sure `table` has a partition for every month of `instants` (ms). */
  async ensure(table: PartitionedTable, instants: number[]): Promise<void> {
    const months = new Set(instants.map(monthOf));
    for (const month of months) {
      const key = `${table}:${month}`;
      if (this.known.has(key)) continue;
      const { from, to, suffix } = monthBounds(month);
      const client = await this.db.connect();
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`minutegate partition ${key}`]);
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${pg.escapeIdentifier(`${table}_${suffix}`)} PARTITION OF ${table} ` +
            `FOR VALUES FROM ('${from}') TO ('${to}')`,
        );
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
      this.known.add(key);
    }
  }

  /** Drops every partition whose whole month ended before the month `keepMonths - 1`
   *  months before `now`'s (keepMonths 25: this month and the 24 before it are kept).
   *  Returns the dropped tables' names. */
  async dropOlderThan(keepMonths: number, now: number): Promise<string[]> {
    const d = new Date(now);
    const oldestKept = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - (keepMonths - 1), 1);
    const dropped: string[] = [];
    for (const table of PARTITIONED_TABLES) {
      const { rows } = await this.db.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = $1`,
        [table],
      );
      for (const r of rows) {
        // Our partitions are named for their month (ensure() above); others are left alone.
        const m = new RegExp(`^${table}_y(\\d{4})m(\\d{2})$`).exec(r.name);
        if (!m || Date.UTC(Number(m[1]), Number(m[2]), 1) > oldestKept) continue;
        await this.db.query(`DROP TABLE IF EXISTS ${pg.escapeIdentifier(r.name)}`);
        for (const k of this.known) if (k.startsWith(`${table}:`)) this.known.delete(k);
        dropped.push(r.name);
      }
    }
    return dropped;
  }
}
