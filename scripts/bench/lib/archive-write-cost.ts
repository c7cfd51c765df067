/**
 * What writing the archive costs PostgreSQL per call (session 24):
 *
 *   npx tsx scripts/bench/lib/archive-write-cost.ts [--calls 20000] [--batch 1000] [--accounts 1]
 *       [--one-by-one] [--rounds 3]
 *
 * A database of its own (mgbench_…, migrated, dropped at the end) gets batches of settled
 * calls as the archiver writes them (postgres/archive-store.ts: one call_debit entry and
 * one call record per call, shaped as the bench's calls are), through a pool of one
 * connection, so the server's work for them is that one backend's. Each write is what one
 * pass of the archiver writes: --accounts accounts' batches of --batch calls each, in one
 * statement (or, with --one-by-one, a statement per account, as before session 24). Per
 * round: µs per call of the backend's CPU (/proc/<pid>/stat, user + system), of this
 * process's, and of the wall clock. PostgreSQL must run on this machine (its backend's
 * /proc entry is read).
 */
import { readFileSync } from 'node:fs';
import { ArchiveStore, type ArchiveBatch, type ArchivedCall, type ArchivedEntry } from '../../../src/postgres/archive-store.js';
import { createDb } from '../../../src/postgres/connect.js';
import { migrate } from '../../../src/postgres/migrate.js';
import { Partitions } from '../../../src/postgres/partitions.js';
import { benchDatabaseUrl, createBenchDatabase, dropBenchDatabase } from './books-db.js';
import { parseArgsOrExit, wholeNumber } from './options.js';
import { hex } from './util.js';

const USAGE = 'usage: npx tsx scripts/bench/lib/archive-write-cost.ts [--calls 20000] [--batch 1000] [--accounts 1] [--one-by-one] [--rounds 3]';
const values = parseArgsOrExit(USAGE, {
  calls: { type: 'string', default: '20000' },
  batch: { type: 'string', default: '1000' },
  accounts: { type: 'string', default: '1' },
  'one-by-one': { type: 'boolean', default: false },
  rounds: { type: 'string', default: '3' },
  help: { type: 'boolean', short: 'h', default: false },
});
const perRound = wholeNumber(USAGE, 'calls', values.calls, 1, 10_000_000);
const batchSize = wholeNumber(USAGE, 'batch', values.batch, 1, 100_000);
const accounts = wholeNumber(USAGE, 'accounts', values.accounts, 1, 10_000);
const oneByOne = values['one-by-one'];
const rounds = wholeNumber(USAGE, 'rounds', values.rounds, 1, 100);

const TICK_US = 1e6 / 100; // USER_HZ: /proc's clock ticks are 1/100 s on Linux
const backendCpuUs = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_US; // utime, stime (fields 14 and 15)
};
const selfCpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** One settled call as record-call-event-8.lua writes its call_debit entry, and its record. */
function settledCall(i: number, at: number): { entry: ArchivedEntry; call: ArchivedCall } {
  const callSid = `CA${hex(16)}`;
  const id = `${at}-${i % 1000}`;
  const legs = [{ sid: `CA${hex(16)}`, status: 'completed', seconds: 95, answered: true, to: '+14155550123', at: at - 96_000 }];
  const entry: ArchivedEntry = {
    id,
    kind: 'call_debit',
    minutes: -2,
    balanceAfter: 100_000 - i,
    ref: callSid,
    at,
    extra: { billedMinutes: '2', overageMinutes: '0', billableSeconds: '95', debitedMinutes: '2', cycleStart: String(at - 86_400_000), endedAt: String(at) },
  };
  const call: ArchivedCall = {
    callSid,
    direction: 'outbound',
    from: 'client:staff_bench',
    to: '+14155550123',
    staffId: 'staff_bench',
    emergency: false,
    placedAt: at - 100_000,
    answeredAt: at - 96_000,
    endedAt: at,
    settledAt: at,
    reservedMinutes: 5,
    billableSeconds: 95,
    billedMinutes: 2,
    debitedMinutes: 2,
    overageMinutes: 0,
    cycleStart: at - 86_400_000,
    legs,
    ledgerEntryId: id,
  };
  return { entry, call };
}

const name = `mgbench_${hex(4)}`;
await createBenchDatabase(name);
const db = createDb(benchDatabaseUrl(name), { max: 1 });
try {
  await migrate(db);
  const store = new ArchiveStore(db, new Partitions(db));
  const { rows } = await db.query<{ pid: number; v: string }>('SELECT pg_backend_pid() AS pid, version() AS v');
  const pid = rows[0]!.pid;
  let n = 0;
  /** One pass's write: `accounts` batches of `batchSize` calls (fewer at the round's end). */
  const pass = (left: number): ArchiveBatch[] =>
    Array.from({ length: Math.min(accounts, Math.ceil(left / batchSize)) }, (_, a) => {
      const calls = Array.from({ length: Math.min(batchSize, left - a * batchSize) }, () => settledCall(n++, Date.now()));
      return { accountId: `acct_bench_${a}`, entries: calls.map((w) => w.entry), calls: calls.map((w) => w.call) };
    });
  // A first, unmeasured pass makes the month's partitions and warms the plan cache.
  await store.write(pass(batchSize * accounts));
  process.stdout.write(
    `${rows[0]!.v.split(' on ')[0]}; ${perRound.toLocaleString('en-US')} calls per round, ${accounts} account(s) of ${batchSize} call(s) a pass, ` +
      `${oneByOne ? 'a statement per account' : 'one statement a pass'}\n`,
  );
  for (let r = 1; r <= rounds; r++) {
    const passes: ArchiveBatch[][] = [];
    for (let left = perRound; left > 0; left -= batchSize * accounts) passes.push(pass(left));
    const pg0 = backendCpuUs(pid);
    const me0 = selfCpuUs();
    const t0 = performance.now();
    for (const p of passes) {
      if (oneByOne) for (const b of p) await store.write([b]);
      else await store.write(p);
    }
    const wall = (performance.now() - t0) * 1000;
    const pgUs = backendCpuUs(pid) - pg0;
    const meUs = selfCpuUs() - me0;
    process.stdout.write(
      `round ${r}: per call PostgreSQL ${(pgUs / perRound).toFixed(1)} µs, this process ${(meUs / perRound).toFixed(1)} µs, wall ${(wall / perRound).toFixed(1)} µs\n`,
    );
  }
} finally {
  await db.end().catch(() => {});
  await dropBenchDatabase(name);
}
