// After voice and status (R19, issue #17 §3): every ledger entry of the run reaches the
// books — waited for, at most 60 s — and the archive's lag per entry, from the gateway's
// own histogram (minutegate_archive_entry_lag_seconds): p50/p99 from its buckets (an upper
// bound: the bucket an entry fell in), and the rows and bytes the books hold per call.
import { booksSize } from '../lib/books-db.js';
import type { Child } from '../lib/processes.js';
import { sleep } from '../lib/util.js';
import { ID, log } from './context.js';

export interface ArchiveOutcome {
  entries: number;
  archived: number;
  waitedMs: number;
  lagP50Seconds: number | null;
  lagP99Seconds: number | null;
  ledgerRows: number;
  callRows: number;
  booksBytesPerCall: number | null;
  ok: boolean;
}

export async function lagBuckets(port: number): Promise<{ le: number; count: number }[]> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: { le: number; count: number }[] = [];
  for (const m of text.matchAll(/^minutegate_archive_entry_lag_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)) {
    out.push({ le: m[1] === '+Inf' ? Infinity : Number(m[1]), count: Number(m[2]) });
  }
  return out;
}

function quantile(buckets: { le: number; count: number }[], q: number): number | null {
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return null;
  return buckets.find((b) => b.count >= q * total)?.le ?? null;
}

/** `entries`: how many ledger entries the run wrote (the opening one, one per settled call).
 *  `since`: the lag histogram's buckets before the measured round (the catch-up's entries
 *  waited on purpose, and are left out of the lag). */
export async function archivePhase(gw: Child, entries: number, calls: number, since: { le: number; count: number }[] = []): Promise<ArchiveOutcome> {
  const started = Date.now();
  let size = await booksSize(ID.database);
  while (size.ledgerRows < entries && Date.now() - started < 60_000) {
    await sleep(250);
    size = await booksSize(ID.database);
  }
  const waitedMs = Date.now() - started;
  const buckets = (await lagBuckets(gw.port)).map((b, i) => ({ le: b.le, count: b.count - (since[i]?.count ?? 0) }));
  const out: ArchiveOutcome = {
    entries,
    archived: size.ledgerRows,
    waitedMs,
    lagP50Seconds: quantile(buckets, 0.5),
    lagP99Seconds: quantile(buckets, 0.99),
    ledgerRows: size.ledgerRows,
    callRows: size.callRows,
    booksBytesPerCall: calls > 0 ? Math.round(size.bytes / calls) : null,
    ok: size.ledgerRows === entries && size.callRows === calls,
  };
  log(
    `archive: ${out.archived}/${entries} entries and ${out.callRows}/${calls} calls in the books (${waitedMs} ms after the status run); ` +
      `lag p50 ≤ ${out.lagP50Seconds} s, p99 ≤ ${out.lagP99Seconds} s; ${out.booksBytesPerCall} bytes of PostgreSQL per call`,
  );
  return out;
}
