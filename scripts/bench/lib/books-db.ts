// The bench's own PostgreSQL database (the books, R19): the gateway runs in production
// mode, which never creates its database, so the bench creates one per run and drops it
// on every exit path — a run never sees, or drops, another's.
import pg from 'pg';
import { onServer } from '../../../src/postgres/connect.js';

/** The server the benches use (BENCH_DATABASE_SERVER, default the local one). */
export const DATABASE_SERVER = (process.env.BENCH_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');

export const benchDatabaseUrl = (name: string) => `${DATABASE_SERVER}/${name}`;


export async function createBenchDatabase(name: string): Promise<void> {
  await onServer(`${DATABASE_SERVER}/postgres`, (c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
}

export async function dropBenchDatabase(name: string): Promise<void> {
  if (!name.startsWith('mgbench_')) throw new Error(`refusing to drop ${name}: not a bench database`);
  await onServer(`${DATABASE_SERVER}/postgres`, (c) => c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`));
}

/** Rows and bytes the books hold (tables and their indexes), for the cost per call. */
export async function booksSize(name: string): Promise<{ ledgerRows: number; callRows: number; bytes: number }> {
  const c = new pg.Client({ connectionString: benchDatabaseUrl(name) });
  c.on('error', () => {});
  await c.connect();
  try {
    const { rows } = await c.query<{ ledger: number; calls: number; bytes: string }>(
      `SELECT (SELECT count(*) FROM ledger_entries)::int AS ledger, (SELECT count(*) FROM calls)::int AS calls,
              (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
                 JOIN pg_inherits i ON i.inhrelid = c.oid JOIN pg_class p ON p.oid = i.inhparent
                WHERE p.relname IN ('ledger_entries', 'calls'))::text AS bytes`,
    );
    return { ledgerRows: rows[0]!.ledger, callRows: rows[0]!.calls, bytes: Number(rows[0]!.bytes) };
  } finally {
    await c.end().catch(() => {});
  }
}
