// Issue #17 §1: the schema is versioned SQL applied under an advisory lock — instances
// starting together apply each migration once — and `npm run migrate` does the same.
import { afterAll, expect, it } from 'vitest';
import { createDb, ensureDatabase } from '../src/postgres/connect.js';
import { loadMigrations, migrate } from '../src/postgres/migrate.js';
import { uniquePrefix } from './support/gateway.js';
import { dropTestDatabase, queryBooks, testDatabaseUrl } from './support/postgres.js';

const url = testDatabaseUrl(uniquePrefix('migrate'));
afterAll(() => dropTestDatabase(url));

it('four instances creating the database and migrating at once: each migration applied once, in order', async () => {
  const created = await Promise.all([1, 2, 3, 4].map(() => ensureDatabase(url)));
  expect(created.filter(Boolean)).toHaveLength(1);
  const dbs = [1, 2, 3, 4].map(() => createDb(url, { max: 2 }));
  try {
    const applied = await Promise.all(dbs.map((db) => migrate(db)));
    const all = loadMigrations().map((m) => m.version);
    expect(all.length).toBeGreaterThanOrEqual(3);
    // One instance applied them all; the others waited for the lock and found nothing to do.
    expect(applied.flat().sort()).toEqual(all);
    const rows = await queryBooks<{ version: string }>(url, 'SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(all);
    // Applied again: nothing.
    expect(await migrate(dbs[0]!)).toEqual([]);
  } finally {
    await Promise.all(dbs.map((db) => db.end()));
  }
});
