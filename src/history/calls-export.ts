// GET …/calls/export (issue #17 §5): the calls that ended in [from, to) as CSV (RFC 4180:
// CRLF line ends, fields holding a comma, quote or line break quoted, quotes doubled),
// ordered by end instant then CallSid. Streamed: each pull of the body reads one page of
// PostgreSQL (keyset paging, one short query per page, no connection held between pages)
// merged with the calls settled but not archived yet (read from Redis when the export
// starts), so a year of calls never sits in memory and a slow reader only slows itself.
import { notFound } from '../domain/errors.js';
import type { CallRecord, HistoryStore } from '../postgres/history-store.js';
import type { AccountStore } from '../redis/account-store.js';
import type { ArchiveQueue } from '../redis/archive-queue.js';
import { fromBooksOr503 } from './history.js';
import { unarchivedCalls } from './unarchived-calls.js';

export const EXPORT_COLUMNS = [
  'callSid',
  'direction',
  'from',
  'to',
  'staffId',
  'startedAt',
  'endedAt',
  'billableSeconds',
  'billedMinutes',
  'cycleStart',
] as const;

/** Rows per page read from PostgreSQL (and per chunk of the body). */
const PAGE = 500;

/** One CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180 §2). */
export function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

const iso = (ms: number) => new Date(ms).toISOString();

function csvRow(c: CallRecord): string {
  return (
    [c.callSid, c.direction, c.from, c.to, c.staffId ?? '', iso(c.placedAt), iso(c.endedAt), String(c.billableSeconds), String(c.billedMinutes), iso(c.cycleStart)]
      .map(csvField)
      .join(',') + '\r\n'
  );
}

/** By end instant, then CallSid (code units; the store compares them byte-wise). */
const byEnd = (a: CallRecord, b: CallRecord) => a.endedAt - b.endedAt || (a.callSid < b.callSid ? -1 : a.callSid > b.callSid ? 1 : 0);

export class CallsExport {
  constructor(
    private readonly records: AccountStore,
    private readonly queue: ArchiveQueue,
    private readonly books: HistoryStore,
  ) {}

  /** The CSV body. Its first page is read here, so an unreachable PostgreSQL is a 503
   *  before the first byte; a failure later cuts the body short (the chunked response then
   *  never ends properly, which every HTTP client reports). */
  async export(accountId: string, window: { from: number; to: number }): Promise<ReadableStream<Uint8Array>> {
    if (!(await this.records.exists(accountId))) throw notFound(`account ${accountId}`);
    const recent = (await unarchivedCalls(this.queue, accountId)).filter((c) => c.endedAt >= window.from && c.endedAt < window.to).sort(byEnd);
    const excluding = recent.map((c) => c.callSid);
    const read = (after: CallRecord | null) =>
      this.books.callsEnded(accountId, window, after ? { endedAt: after.endedAt, callSid: after.callSid } : null, PAGE, excluding);
    let page = await fromBooksOr503(() => read(null));
    let at = 0;
    let next = 0; // of recent
    let more = page.length === PAGE;
    let sentHeader = false;
    const encoder = new TextEncoder();

    return new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          let out = sentHeader ? '' : `${EXPORT_COLUMNS.join(',')}\r\n`;
          sentHeader = true;
          for (let n = 0; n < PAGE; n++) {
            if (at === page.length && more) {
              page = await read(page[page.length - 1]!);
              at = 0;
              more = page.length === PAGE;
            }
            const archived = page[at];
            const live = recent[next];
            if (!archived && !live) break;
            if (archived && (!live || byEnd(archived, live) <= 0)) {
              out += csvRow(archived);
              at++;
            } else {
              out += csvRow(live!);
              next++;
            }
          }
          if (out === '') controller.close();
          else controller.enqueue(encoder.encode(out));
        },
      },
      // Read ahead by nothing: a page is read when the reader asks for it.
      { highWaterMark: 0 },
    );
  }
}
