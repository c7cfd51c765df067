/**
 * Webhook benchmark of the COMPILED gateway against the bare ceiling (BENCHMARKS.md).
 *
 *   npm run bench:webhooks [-- --duration 10] [--warmup 2] [--connections 50] [--lifecycle-calls 2000] [--build]
 *   npm run bench:webhooks -- --only quick [--duration 10]
 *   npm run bench:webhooks -- --only catchup [--duration 10]
 *   npm run bench:webhooks -- --only scale [--scale-duration 5] [--warmup 2] [--connections 50]
 *   npm run bench:webhooks -- --only instructions [--instr-requests 1000] [--instr-warmup 5000]
 *
 * Builds dist/ when it is older than src/ (or always with --build), then starts
 * `node dist/main.js` (NODE_ENV=production, LOG_LEVEL=warn) and
 * `node scripts/bench/webhooks/bare-ceiling.mjs` as child processes with a Redis prefix of
 * their own; the load generator (autocannon, programmatic) runs in this process. Phases,
 * each a warm-up then a measured run with the same number of connections:
 *
 *   voice      (voice.ts) signed POST /twilio/voice from a softphone, a unique CallSid per
 *              request; every answer must be a <Dial>.
 *   status     (status.ts) signed POST /twilio/status <Dial action> for the calls
 *              authorized by voice, oldest first, each exactly once; the rest completed
 *              unmeasured; then (books.ts) reserved must be 0 and the debit 2 minutes per
 *              authorized call; /metrics must agree.
 *              Voice and status run three times (issue #17: "no loss from archiving, same
 *              run"): on a gateway with ARCHIVER=off (nothing written to PostgreSQL while
 *              it is measured), then on an archiving gateway (same Redis prefix and books),
 *              then, once the archiving gateway has stopped, with ARCHIVER=off again (since
 *              session 24: archiving on is set against the mean of the rounds around it).
 *   catch-up   (catch-up.ts) between the two: the archiving gateway starts and archives
 *              the first round's backlog alone; its CPU, Redis's and PostgreSQL's per call.
 *   archive    (archive.ts) every ledger entry and call of the run reaches PostgreSQL; the
 *              archive's lag per entry (p50/p99) and the books' rows and bytes per call.
 *   lifecycle  (lifecycle.ts) full call lifecycles on a private Redis: the cost per call
 *              in Redis commands, Redis µs and gateway CPU µs, and the capacity they imply.
 *   bare       (bare.ts) the same voice bodies against the bare ceiling.
 *   scale      (scale.ts; only with --only scale, run alone) the voice bodies through 1 and
 *              2 gateways on a private redis-server, then on a local 3-master Redis
 *              Cluster; the CPU of each process and what limits each configuration
 *              (scale-report.ts).
 *   instructions (instructions.ts; only with --only instructions, run alone) the gateway
 *              under valgrind's callgrind: its own instructions per voice and per <Dial
 *              action> webhook, each run counted alone after an uncounted warm-up.
 *
 * Prints a table (req/s, p50, p99, errors) and the ratios voice/bare and status/bare
 * against the targets (≥ 0.8 of bare, p99 ≤ 10 ms), the cost per call, then one JSON
 * line (for BENCHMARKS.md). Progress goes to stderr, results to stdout. Exit code 1 when
 * a correctness check fails (errors, non-2xx, wrong TwiML, balance); missed performance
 * targets do not fail the run. Child processes are stopped and the bench's Redis keys
 * deleted (SCAN + UNLINK) on every exit path, Ctrl-C included.
 */
import { join } from 'node:path';
import { gatewayEnv } from '../lib/identity.js';
import { children, startServer, stopChild, type Child } from '../lib/processes.js';
import { benchEnv } from '../lib/report.js';
import { installCleanup, prepareBench, runBench } from '../lib/run.js';
import { ROOT, fmtInt } from '../lib/util.js';
import { archivePhase, lagBuckets } from './archive.js';
import { catchUpPhase } from './catch-up.js';
import { barePhase, startBare } from './bare.js';
import { balanceNow, checkBooks } from './books.js';
import { ACCOUNT_ID, ID, IDENTITY, createBenchAccount, log, opts, shared } from './context.js';
import { instructionsPhase } from './instructions.js';
import { lifecyclePhase } from './lifecycle.js';
import { memoryPhase, printMemoryReport } from './memory.js';
import { abPhase, printAbReport } from './ab.js';
import { printScaleReport } from './scale-report.js';
import { scalePhase } from './scale.js';
import { stopLoad } from './load.js';
import { printCatchUp, printQuickReport, printReport } from './report.js';
import { statusPhase } from './status.js';
import { authorized, bad, samples, voicePhase } from './voice.js';

const cleanup = installCleanup({ log, prefix: ID.prefix, database: ID.database, redis: () => shared.redis, stopLoad });

async function main(): Promise<number> {
  const { start, redisVersion } = await prepareBench(opts.build, log, (r) => (shared.redis = r), ID.database);
  if (opts.only === 'memory') return printMemoryReport(await memoryPhase(), benchEnv(start, redisVersion)) ? 0 : 1;
  if (opts.only === 'instructions') {
    const r = await instructionsPhase();
    if (!r) {
      log('instructions: valgrind is not installed (apt-get install valgrind)');
      return 1;
    }
    const env = benchEnv(start, redisVersion);
    console.log(`\nminutegate gateway instructions per webhook (callgrind) — ${env.date}, git ${env.git}`);
    console.log(`${fmtInt(r.warmup)} uncounted + ${fmtInt(r.requests)} counted requests of each kind, ${r.connections} connections, ARCHIVER=off`);
    console.log(`voice              ${r.voiceKInstr.toFixed(1)}k instructions per request`);
    console.log(`status (<Dial action>) ${r.statusKInstr.toFixed(1)}k instructions per request`);
    console.log(`bare route (voice) ${r.bareKInstr.toFixed(1)}k instructions per request; voice ÷ bare ${(r.voiceKInstr / r.bareKInstr).toFixed(2)}, status ÷ bare ${(r.statusKInstr / r.bareKInstr).toFixed(2)}`);
    console.log(`wrong answers      ${r.wrong}`);
    console.log(JSON.stringify({ bench: 'webhooks', phase: 'instructions', ...env, ...r }));
    return r.wrong === 0 ? 0 : 1;
  }
  if (opts.only === 'ab') {
    const env = benchEnv(start, redisVersion);
    return printAbReport(await abPhase(), ['', `minutegate webhook A/B — ${env.date}, git ${env.git}`]) ? 0 : 1;
  }
  if (opts.only === 'scale') {
    const rows = await scalePhase();
    return printScaleReport(benchEnv(start, redisVersion), rows) ? 0 : 1;
  }

  const quick = opts.only === 'quick';

  // Round 1, archive off: the gateway meters and answers; its ledger entries wait in Redis.
  const gwOff = await startServer({
    name: 'gateway (ARCHIVER=off)',
    script: join(ROOT, 'dist', 'main.js'),
    env: { ...gatewayEnv(ID), ARCHIVER: 'off' },
    readyPath: '/readyz',
    log,
  });
  const bare = await startBare();

  await createBenchAccount(gwOff.port);
  log(`account ${ACCOUNT_ID}: balance ${fmtInt((await balanceNow(gwOff.port)).balance)} minutes, softphone client:${IDENTITY}`);
  log('round 1: a gateway with ARCHIVER=off');
  const off1 = await round(gwOff);
  const statusOff = off1.status;
  // The bare route right after round 1, and again at the end (session 25): measured once,
  // at the end, it came out a third slower than in other runs in two full runs of 25.
  const bareEarly = await barePhase(bare);
  if (quick) {
    await Promise.all(children.map(stopChild));
    const quickOk = printQuickReport(benchEnv(start, redisVersion), { voice: off1.voice, status: statusOff.status, bare: bareEarly }, off1.books.balanceOk && off1.books.metricsOk && off1.bad.voice + off1.bad.status + bad.bare === 0);
    return quickOk ? 0 : 1;
  }

  // The archiving gateway: it archives round 1's backlog alone (measured), then round 2.
  const gw = await startServer({ name: 'gateway', script: join(ROOT, 'dist', 'main.js'), env: gatewayEnv(ID), readyPath: '/readyz', log });
  const catchUp = await catchUpPhase(gw, 1 + statusOff.completedTotal);
  if (opts.only === 'catchup') {
    await Promise.all(children.map(stopChild));
    const env = benchEnv(start, redisVersion);
    console.log(`\nminutegate archive catch-up — ${env.date}, git ${env.git}`);
    console.log(printCatchUp(catchUp));
    console.log(JSON.stringify({ bench: 'webhooks', phase: 'catchup', ...env, ...catchUp }));
    return catchUp.ok && off1.books.balanceOk && off1.bad.voice + off1.bad.status === 0 ? 0 : 1;
  }
  await stopChild(gwOff);
  const lagBefore = await lagBuckets(gw.port);

  log('round 2: an archiving gateway');
  const on = await round(gw);
  const status = on.status;
  // Every entry of both rounds in PostgreSQL: the opening allowance and one call_debit per call.
  const archive = await archivePhase(gw, 1 + statusOff.completedTotal + status.completedTotal, statusOff.completedTotal + status.completedTotal, lagBefore);
  // After the books: without a private Redis it runs on this gateway's account.
  const lifecycle = await lifecyclePhase(gw);

  // Round 3, archive off again (session 24): round 2 runs later than round 1 and on a
  // Redis holding round 1's calls, and its voice run, which archives nothing, moved as much
  // as its status run; archiving on is set against both rounds off around it. The archiving
  // gateway stops first, so that nothing is archived meanwhile.
  await stopChild(gw);
  const gwOff2 = await startServer({ name: 'gateway (ARCHIVER=off, again)', script: join(ROOT, 'dist', 'main.js'), env: { ...gatewayEnv(ID), ARCHIVER: 'off' }, readyPath: '/readyz', log });
  log('round 3: a gateway with ARCHIVER=off, again');
  const off2 = await round(gwOff2);
  await stopChild(gwOff2);

  const bareLate = await barePhase(bare);

  await Promise.all(children.map(stopChild));

  const ok = printReport({
    env: benchEnv(start, redisVersion),
    archiveOff: { ...off1, gatewayWarnLines: gwOff.warnLines },
    archiveOffAfter: { ...off2, gatewayWarnLines: gwOff2.warnLines },
    catchUp,
    voice: on.voice,
    status,
    bareEarly,
    bareLate,
    bad: { ...on.bad, bare: bad.bare },
    samples,
    calls: on.calls,
    books: on.books,
    lifecycle,
    archive,
    gatewayWarnLines: gw.warnLines,
  });
  return ok ? 0 : 1;
}

/** One round of the voice and status phases on `gw`: what they measured, the calls they
 *  authorized, the books checked after them, and the unexpected answers of this round. */
async function round(gw: Child) {
  const initial = await balanceNow(gw.port);
  authorized.length = 0;
  bad.voice = 0;
  bad.status = 0;
  const voice = await voicePhase(gw);
  const status = await statusPhase(gw);
  const calls = authorized.length;
  const books = await checkBooks(gw, initial, calls, status);
  return { voice, status, calls, books, bad: { voice: bad.voice, status: bad.status } };
}

await runBench('bench', main, cleanup);
