// R19: archiving a batch costs PostgreSQL what the batch holds, not what the account has
// archived before. The check that a CallSid is archived once (postgres/archive-store.ts)
// once let the planner read and hash every archived call of the account for each batch
// whenever a month's partition had no statistics yet (BENCHMARKS.md, session 24): here the
// statement is run, EXPLAIN ANALYZE'd and rolled back, on a fresh partition of 2,000 calls.
import { expect, it } from 'vitest';
import pg from 'pg';
import { ARCHIVE_SQL, type ArchivedCall, type ArchivedEntry } from '../src/postgres/archive-store.js';
import { booksPerFile } from './support/books.js';

const { url, books } = booksPerFile('archive-plan');

const AT = Date.now();
let seq = 0;
function settled(): { entry: ArchivedEntry; call: ArchivedCall } {
  const n = seq++;
  const callSid = `CA${String(n).padStart(32, '0')}`;
  const id = `${AT}-${n}`;
  return {
    entry: { id, kind: 'call_debit', minutes: -1, balanceAfter: 0, ref: callSid, at: AT, extra: {} },
    call: {
      callSid, direction: 'outbound', from: 'client:acme-alice', to: '+14155550100', staffId: 'alice', emergency: false,
      placedAt: AT - 60_000, answeredAt: AT - 50_000, endedAt: AT, settledAt: AT, reservedMinutes: 1, billableSeconds: 50,
      billedMinutes: 1, debitedMinutes: 1, overageMinutes: 0, cycleStart: AT - 86_400_000, legs: [], ledgerEntryId: id,
    },
  };
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  Plans?: PlanNode[];
}

/** Rows each plan node read from a partition of `calls`, by node. */
function callRowsRead(node: PlanNode, out: string[] = []): string[] {
  if (node['Relation Name']?.startsWith('calls_') && node['Actual Rows'] * node['Actual Loops'] > 0) {
    out.push(`${node['Node Type']} on ${node['Relation Name']}: ${node['Actual Rows'] * node['Actual Loops']} rows`);
  }
  for (const p of node.Plans ?? []) callRowsRead(p, out);
  return out;
}

it("a batch's check for CallSids already archived probes the index per call, not every call of the account", async () => {
  for (let b = 0; b < 2; b++) {
    const batch = Array.from({ length: 1000 }, settled);
    expect(await books().archive.write([{ accountId: 'acme', entries: batch.map((x) => x.entry), calls: batch.map((x) => x.call) }])).toEqual({ entries: 1000, calls: 1000 });
  }
  const next = Array.from({ length: 10 }, settled);
  const again = [next[0]!.call, next[1]!.call].map((c) => ({ ...c }));
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('BEGIN');
    const batch = JSON.stringify([{ a: 'acme', e: next.map((x) => x.entry), c: next.map((x) => x.call) }]);
    const r = await c.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${ARCHIVE_SQL}`, [batch]);
    const plan = r.rows[0]!['QUERY PLAN'][0].Plan;
    // The new rows go in, and no node reads any of the 2,000 archived before.
    expect(callRowsRead(plan)).toEqual([]);
    // The check still holds: the same CallSids again, one with another end instant, add nothing.
    again[1]!.endedAt += 5_000;
    const dup = await c.query(ARCHIVE_SQL, [JSON.stringify([{ a: 'acme', e: [], c: again }])]);
    expect(dup.rows).toEqual([{ entries: 0, calls: 0 }]);
    await c.query('ROLLBACK');
  } finally {
    await c.end();
  }
});
