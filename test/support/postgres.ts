// The books under test: every key prefix gets a database of its own, named after it, which
// the gateway creates at start-up (as it does in development) and the test drops when it
// deletes the prefix's keys. So no test sees another's rows, and nothing but databases a
// test created is ever dropped.
import pg from 'pg';
import { onServer } from '../../src/postgres/connect.js';

/** The server the suite runs against (TEST_DATABASE_URL names any database on it). */
export const TEST_POSTGRES_URL = process.env.TEST_DATABASE_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres';

/** The database of a key prefix (PostgreSQL names are at most 63 bytes). */
export function testDatabaseName(prefix: string): string {
  return `mgt_${prefix.toLowerCase().replace(/[^a-z0-9]+/g, '_')}`.slice(0, 63);
}

export function testDatabaseUrl(prefix: string, server = TEST_POSTGRES_URL): string {
  const u = new URL(server);
  u.pathname = `/${testDatabaseName(prefix)}`;
  return u.toString();
}


/** Drops a database this suite made (only names it gives: "mgt_…"). */
export async function dropTestDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!name.startsWith('mgt_')) throw new Error(`refusing to drop ${name}: not a test database`);
  await onServer(url, (c) => c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`));
}

/** A query on the database at `url`, for tests that look at the books directly. */
export async function queryBooks<R extends pg.QueryResultRow = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  await c.connect();
  try {
    return (await c.query<R>(sql, params)).rows;
  } finally {
    await c.end().catch(() => {});
  }
}

/** Whether PostgreSQL answers at `url`'s server. */
export async function postgresAnswers(url = TEST_POSTGRES_URL): Promise<boolean> {
  try {
    await onServer(url, (c) => c.query('SELECT 1'));
    return true;
  } catch {
    return false;
  }
}
