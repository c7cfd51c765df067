// Issue #17 §5: archived history is kept HISTORY_RETENTION_MONTHS (this month included)
// and dropped a month at a time — whole partitions, on real PostgreSQL.
import { expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { HistoryRetention } from '../src/jobs/history-retention.js';
import { booksPerFile } from './support/books.js';
import { queryBooks } from './support/postgres.js';

const { url, books } = booksPerFile('retention');

const NOW = Date.UTC(2027, 2, 15); // 15 March 2027
const entry = (at: number, id: string) => ({ id, kind: 'adjustment', minutes: 1, balanceAfter: 1, ref: id, at, extra: {} });

it('drops whole months older than the retention, keeps the rest and their rows', async () => {
  // One entry in each month from November 2024 to March 2027.
  const entries = [];
  for (let m = 0; m < 29; m++) entries.push(entry(Date.UTC(2024, 10 + m, 10), `${1_700_000_000_000 + m}-0`));
  await books().archive.write([{ accountId: 'acme', entries, calls: [] }]);
  const months = async () =>
    (await queryBooks<{ name: string }>(url, "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'ledger_entries' ORDER BY 1")).map((r) => r.name);
  expect(await months()).toHaveLength(29);

  // 25 months: March 2027 and the 24 before it (from March 2025) are kept.
  const dropped = await new HistoryRetention(books(), 25, () => NOW, createLogger('silent')).pass();
  expect(dropped.sort()).toEqual(['ledger_entries_y2024m11', 'ledger_entries_y2024m12', 'ledger_entries_y2025m01', 'ledger_entries_y2025m02']);
  expect((await months())[0]).toBe('ledger_entries_y2025m03');
  const [row] = await queryBooks<{ n: number }>(url, 'SELECT count(*)::int AS n FROM ledger_entries');
  expect(row!.n).toBe(25);

  // Nothing more to drop; a row of a dropped month can be written again (its partition comes back).
  expect(await new HistoryRetention(books(), 25, () => NOW, createLogger('silent')).pass()).toEqual([]);
  await books().archive.write([{ accountId: 'acme', entries: [entry(Date.UTC(2024, 10, 11), '1699999999999-0')], calls: [] }]);
  expect((await months())[0]).toBe('ledger_entries_y2024m11');
});
