// The calls settled but not archived yet: the call_debit entries after the account's
// archive mark in its Redis ledger, each as the call detail record the archiver will
// write (jobs/archiver.ts' archivedCall, so both read a call the same way). Usually a
// handful (the archive follows within a second); read in batches so a backlog is too.
import { archivedCall } from '../jobs/archive-records.js';
import type { CallRecord } from '../postgres/history-store.js';
import type { ArchiveQueue } from '../redis/archive-queue.js';

const BATCH = 500;

export async function unarchivedCalls(queue: ArchiveQueue, accountId: string): Promise<CallRecord[]> {
  const out: CallRecord[] = [];
  let after: string | undefined;
  for (;;) {
    const batch = await queue.unarchived(accountId, BATCH, after);
    for (const e of batch.entries) {
      if (e.fields.kind !== 'call_debit') continue;
      const call = archivedCall(e, batch.calls.get(e.fields.ref ?? ''));
      if (call) out.push(call);
    }
    if (batch.entries.length < BATCH) return out;
    after = batch.entries[batch.entries.length - 1]!.id;
  }
}
