// The whole history through the same API (issue #17 §5): an account's ledger and calls as
// PostgreSQL holds them (archived) merged with what Redis still holds (everything recent,
// some of it not archived yet), in the shapes and cursors the API always had. An entry or
// a call may be in both stores, in Redis only, or — once Redis is trimmed — in PostgreSQL
// only; each page is the first `limit` of the union after the cursor, each item once.
//
// Redis is read first, PostgreSQL second: nothing leaves Redis before it is archived, so
// whatever Redis no longer held when it was read is in PostgreSQL when PostgreSQL is read.
// Active and unsettled calls are live state and come from Redis only. While PostgreSQL is
// away the answer is what Redis holds, marked incomplete (the route says so in a header).
import { ledgerCursorAtEnd, parseCallsCursor } from '../domain/cursors.js';
import { AppError, notFound } from '../domain/errors.js';
import type { CallRecord, HistoryStore } from '../postgres/history-store.js';
import { BooksUnavailable } from '../postgres/unavailable.js';
import type { AccountStore } from '../redis/account-store.js';
import { callView, ledgerEntry, refusedCallView, settledCallView, type CallView, type LedgerEntry } from '../accounts/views.js';

/** An answer, and whether PostgreSQL took part in it (false: Redis only). */
export type HistoryRead<T> = T & { complete: boolean };

/** Stream ids "<ms>-<seq>" in order (either part may exceed 2^53). */
function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}

/** Newest first, CallSids descending (code-unit order) on a tie: the calls cursor's order. */
const newestFirst = (a: { score: number; sid: string }, b: { score: number; sid: string }) =>
  b.score - a.score || (a.sid < b.sid ? 1 : a.sid > b.sid ? -1 : 0);

export class History {
  constructor(
    private readonly records: AccountStore,
    private readonly books: HistoryStore,
  ) {}

  /** A read of the books, or `fallback` (and complete: false) while they are away. */
  private async fromBooks<T>(read: () => Promise<T>, fallback: T): Promise<{ value: T; complete: boolean }> {
    try {
      return { value: await read(), complete: true };
    } catch (err) {
      if (err instanceof BooksUnavailable) return { value: fallback, complete: false };
      throw err;
    }
  }

  /** The ledger in order of entry (oldest first unless `order` is "desc"), paged by id. */
  async ledger(
    accountId: string,
    opts: { limit: number; cursor?: string; order: 'asc' | 'desc' },
  ): Promise<HistoryRead<{ entries: LedgerEntry[]; nextCursor: string | null }>> {
    if (!(await this.records.exists(accountId))) throw notFound(`account ${accountId}`);
    // Nothing lies beyond either end of the id space (and Redis refuses such a range).
    if (opts.cursor && ledgerCursorAtEnd(opts.cursor, opts.order)) return { entries: [], nextCursor: null, complete: true };
    const want = opts.limit + 1;
    const live = await this.records.ledgerEntries(accountId, opts.order, opts.cursor, want);
    const archived = await this.fromBooks(() => this.books.ledger(accountId, opts.order, opts.cursor, want), []);
    // Each store answered its first `want` after the cursor, so the union's first `want`
    // are among them. Sorting is stable: an entry in both keeps Redis' copy (the same).
    const sign = opts.order === 'asc' ? 1 : -1;
    const merged = [...live, ...archived.value].sort((a, b) => sign * compareIds(a.id, b.id));
    const rows = merged.filter((r, i) => i === 0 || r.id !== merged[i - 1]!.id).slice(0, want);
    const page = rows.slice(0, opts.limit);
    return {
      entries: page.map((r) => ledgerEntry(r.id, r.fields)),
      nextCursor: rows.length > opts.limit ? page[page.length - 1]!.id : null,
      complete: archived.complete,
    };
  }

  /** One call: live from Redis while it is there, else its record in PostgreSQL. */
  async call(accountId: string, callSid: string): Promise<HistoryRead<{ call: CallView | null }>> {
    const live = callView(await this.records.call(accountId, callSid));
    if (live) return { call: live, complete: true };
    const archived = await this.fromBooks(() => this.books.call(accountId, callSid), null);
    return { call: archived.value ? settledCallView(archived.value) : null, complete: archived.complete };
  }

  /** Calls, newest first (by start for open calls, by settlement for ended ones; both when
   *  no state is given), paged by a cursor "<ms>:<CallSid>" of the last one returned. */
  async calls(
    accountId: string,
    opts: { state?: 'active' | 'ended' | 'refused'; limit: number; cursor?: string },
  ): Promise<HistoryRead<{ calls: CallView[]; nextCursor: string | null }>> {
    if (!(await this.records.exists(accountId))) throw notFound(`account ${accountId}`);
    const after = opts.cursor ? parseCallsCursor(opts.cursor) : null;
    if (opts.state === 'refused') {
      // Only in the books (written within a second of the refusal).
      const found = await this.fromBooks(() => this.books.refusedCalls(accountId, after ? { refusedAt: after.score, callSid: after.sid } : null, opts.limit + 1), []);
      const page = found.value.slice(0, opts.limit);
      const last = page[page.length - 1];
      return {
        calls: page.map(refusedCallView),
        nextCursor: found.value.length > opts.limit && last ? `${last.refusedAt}:${last.callSid}` : null,
        complete: found.complete,
      };
    }
    const sets: ('active' | 'ended')[] = opts.state ? [opts.state] : ['active', 'ended'];
    // Redis: members sharing the cursor's score are re-read and skipped up to the cursor.
    const members: { sid: string; score: number; live: boolean; record?: CallRecord }[] = [];
    for (const state of sets) {
      const found = await this.records.callsNewestFirst(accountId, state, after ? String(after.score) : '+inf', opts.limit + 64);
      for (const m of found) members.push({ ...m, live: true });
    }
    let complete = true;
    if (opts.state !== 'active') {
      const archived = await this.fromBooks(
        () => this.books.settledCalls(accountId, after ? { settledAt: after.score, callSid: after.sid } : null, opts.limit + 1),
        [],
      );
      complete = archived.complete;
      for (const r of archived.value) members.push({ sid: r.callSid, score: r.settledAt, live: false, record: r });
    }
    // One member per call: Redis' (live) when it has the call, with the archived record
    // kept for when its hash is already gone.
    const bySid = new Map<string, (typeof members)[number]>();
    for (const m of members) {
      const kept = bySid.get(m.sid);
      if (!kept) bySid.set(m.sid, m);
      else if (m.record) kept.record = m.record;
    }
    const rest = [...bySid.values()]
      .sort(newestFirst)
      .filter((m) => !after || m.score < after.score || (m.score === after.score && m.sid < after.sid));
    const page = rest.slice(0, opts.limit);
    const live = page.filter((m) => m.live);
    const hashes = await this.records.callsBySids(accountId, live.map((m) => m.sid));
    const views = new Map(live.map((m, i) => [m.sid, callView(hashes[i]!)]));
    const calls = page
      .map((m) => views.get(m.sid) ?? (m.record ? settledCallView(m.record) : null))
      .filter((c): c is CallView => c !== null);
    const last = page[page.length - 1];
    return { calls, nextCursor: rest.length > opts.limit && last ? `${last.score}:${last.sid}` : null, complete };
  }
}

/** A read the answer cannot do without (usage, export): 503 STORE_UNAVAILABLE while the
 *  books are away, never a partial figure. */
export async function fromBooksOr503<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof BooksUnavailable) {
      throw new AppError(503, 'STORE_UNAVAILABLE', 'the books (PostgreSQL) are unreachable; retry later');
    }
    throw err;
  }
}
