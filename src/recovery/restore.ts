// `npm run restore` (R20, issue #18 §1): every account the books know whose live state is
// missing from Redis (or just one) is rebuilt from the books. Per account, under its journal
// lock (books/writes.ts applies an account's writes under the same lock, so none is applied
// while its books are read and its state written): is it live? → skipped; else read the
// books, fold them (rebuild.ts), write the result (one script that refuses an existing pool).
// Gateways may run meanwhile: a call for an account not restored yet finds no pool and is
// refused (fail closed), a write for it answers 404 and changes nothing.
import type { DbClient } from '../postgres/connect.js';
import type { RecoveryStore } from '../postgres/recovery-store.js';
import type { RestoreStore } from '../redis/restore-store.js';
import { rebuildAccount, type RebuiltAccount } from './rebuild.js';

export interface RestoreReport {
  accounts: number;
  restored: number;
  skipped: number;
  /** Accounts that could not be restored (an error each, on the log): the run exits non-zero. */
  failed: number;
}

export interface RestoreDeps {
  books: RecoveryStore;
  /** Runs `fn` holding the account's journal lock (JournalStore.withAccountLock). */
  withAccountLock<T>(accountId: string, fn: (c: DbClient) => Promise<T>): Promise<T>;
  live: RestoreStore;
  clock: () => number;
  /** Progress lines (stderr). */
  say: (line: string) => void;
  removedIdentityMs: number;
}

export class UnknownAccountError extends Error {}

const summary = (a: RebuiltAccount) =>
  `balance ${a.pool.balance}, plan ${a.pool.plan}+${a.pool.addon}, used ${a.pool.used}, overage ${a.pool.overage}, ` +
  `${a.staff.length} staff, ${a.numbers.length} numbers, ${a.cards.length} cards, ${a.purchases.length} purchases` +
  (a.newEntries.length > 0 ? `, ${a.newEntries.length} ledger entries the archive lacked booked again` : '');

export async function restore(deps: RestoreDeps, opts: { accountId?: string; dryRun?: boolean } = {}): Promise<RestoreReport> {
  const known = await deps.books.accountIds();
  let ids = known;
  if (opts.accountId !== undefined) {
    if (!known.includes(opts.accountId)) throw new UnknownAccountError(`account ${opts.accountId} is not in the books (no applied create_account write)`);
    ids = [opts.accountId];
  }
  const report: RestoreReport = { accounts: ids.length, restored: 0, skipped: 0, failed: 0 };
  const verb = opts.dryRun ? 'would restore' : 'restored';
  deps.say(`restore: ${ids.length} account(s) in the books${opts.dryRun ? ' (dry run: nothing is written)' : ''}`);
  let n = 0;
  for (const id of ids) {
    n++;
    try {
      const done = await deps.withAccountLock(id, async (c) => {
        if (await deps.live.isLive(id)) return { state: 'live' as const };
        const rebuilt = rebuildAccount(await deps.books.accountBooks(c, id), { removedIdentityMs: deps.removedIdentityMs, now: deps.clock() });
        if (opts.dryRun) return { state: 'restored' as const, rebuilt, conflicts: [] as string[] };
        const r = await deps.live.restore(rebuilt, deps.clock());
        return r.restored ? { state: 'restored' as const, rebuilt, conflicts: r.conflicts } : { state: 'live' as const };
      });
      if (done.state === 'live') {
        report.skipped++;
        deps.say(`[${n}/${ids.length}] ${id}: live in Redis, skipped`);
      } else {
        report.restored++;
        deps.say(`[${n}/${ids.length}] ${id}: ${verb} (${summary(done.rebuilt)})`);
        for (const c of done.conflicts) deps.say(`[${n}/${ids.length}] ${id}: ${c} belongs to someone else in the directory: left as it is`);
      }
    } catch (err) {
      report.failed++;
      deps.say(`[${n}/${ids.length}] ${id}: FAILED: ${(err as Error).message}`);
    }
  }
  return report;
}
