// Vitest global setup: the suite needs a PostgreSQL server (the books, R19) on
// TEST_DATABASE_URL's server (default postgres@127.0.0.1:5432); each key prefix gets a
// database of its own (support/postgres.ts). Says clearly what is missing when none answers.
import { postgresAnswers, TEST_POSTGRES_URL } from './postgres.js';

export default async function setup(): Promise<void> {
  if (await postgresAnswers()) return;
  const u = new URL(TEST_POSTGRES_URL);
  throw new Error(
    `No PostgreSQL answers on ${u.hostname}:${u.port || 5432} (as ${u.username || 'the current user'}): start it ` +
      '(Debian: pg_ctlcluster <version> main start) or set TEST_DATABASE_URL',
  );
}
