// `npm run migrate`: applies the books' migrations (src/postgres/migrations) to DATABASE_URL
// and exits — for operators who migrate before rolling gateways out. The gateway applies
// the same migrations at start-up under the same advisory lock, so running both is safe.
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig } from './config.js';
import { createDb, ensureDatabase, redactDbUrl } from './postgres/connect.js';
import { migrate } from './postgres/migrate.js';

export async function runMigrations(): Promise<number> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`minutegate migrate: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const { url, createDatabase } = config.postgres;
  const db = createDb(url, { max: 1 });
  try {
    if (createDatabase && (await ensureDatabase(url))) process.stderr.write(`created database ${redactDbUrl(url)}\n`);
    const applied = await migrate(db);
    process.stdout.write(`${JSON.stringify({ database: redactDbUrl(url), applied })}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`minutegate migrate: ${redactDbUrl(url)}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await db.end().catch(() => {});
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void runMigrations().then((code) => process.exit(code));
}
