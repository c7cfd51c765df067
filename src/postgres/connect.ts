// Connections to the books (R19): one pg.Pool per instance, and the start-up step that
// creates the database outside production (so `npm ci && npm start` works on a fresh
// machine). Only the stores in src/postgres/ use these connections.
import pg from 'pg';

export type Db = pg.Pool;
export type DbClient = pg.PoolClient;

export interface DbOptions {
  /** Most connections this instance opens (the archiver and the API share them). */
  max?: number;
  /** How long a query waits for a connection before it counts as "PostgreSQL away". */
  connectTimeoutMs?: number;
}

// int8 (bigint) and numeric come back as strings by default; ours are counts and ms far
// below 2^53, so numbers they are.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export function createDb(url: string, opts: DbOptions = {}): Db {
  const db = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 3000,
    idleTimeoutMillis: 30_000,
    // A query never hangs a request for long: PostgreSQL stopping mid-query is an error.
    query_timeout: 30_000,
    application_name: 'minutegate',
  });
  // An idle connection that dies (PostgreSQL restarted) must not crash the process; the
  // pool drops it and the next query opens a new one.
  db.on('error', () => {});
  return db;
}

/** Runs `fn` on one connection to the server's maintenance database ("postgres") — where
 *  databases are created and dropped — and closes it. */
export async function onServer<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** The database named in `url`, created when it does not exist (not in production: there
 *  the operator creates it). True when it was created now. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const probe = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return false;
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') throw err; // invalid_catalog_name
  } finally {
    await probe.end().catch(() => {});
  }
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  return onServer(url, async (client) => {
    try {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      return true;
    } catch (err) {
      // Another instance created it first (42P04), or at the same moment (23505 on the catalog).
      const code = (err as { code?: string }).code;
      if (code === '42P04' || code === '23505') return false;
      throw err;
    }
  });
}

/** The URL without its password, for logs. */
export function redactDbUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}
