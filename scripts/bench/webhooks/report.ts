// The webhook bench's report: the table, ratios to the bare ceiling, the books, the cost
// per call; then one JSON line (for BENCHMARKS.md).
import { callCostLines, cpuUsPer } from '../lib/cost.js';
import { usPerRequest } from '../lib/cpu.js';
import { benchEnv, formatTable, pctCell, reportHeader } from '../lib/report.js';
import { fmtInt, r2 } from '../lib/util.js';
import type { ArchiveOutcome } from './archive.js';
import type { CatchUpOutcome } from './catch-up.js';
import type { checkBooks } from './books.js';
import { MINUTES_PER_CALL, opts } from './context.js';
import type { LifecycleOutcome } from './lifecycle.js';
import { machinePct, type PhaseResult } from './load.js';
import type { StatusOutcome } from './status.js';

/** A printed (and JSON) row: a phase's figures, rounded, with its count of wrong answers. */
type Row = Pick<PhaseResult, 'rps' | 'p50' | 'p90' | 'p99' | 'max' | 'requests' | 'errors' | 'timeouts' | 'non2xx' | 'durationS' | 'cpu'> & {
  phase: string;
  badBody: number;
  /** The server's CPU time per request of the measured run (machine-independent). */
  serverCpuUsPerRequest: number | null;
};

function row(phase: string, r: PhaseResult, badBody: number): Row {
  return {
    phase,
    rps: Math.round(r.rps),
    p50: r2(r.p50),
    p90: r2(r.p90),
    p99: r2(r.p99),
    max: r2(r.max),
    requests: r.requests,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    badBody,
    durationS: r.durationS,
    cpu: r.cpu,
    serverCpuUsPerRequest: cpuUsPer(r.serverCpuMs, r.requests),
  };
}

/** A round of the voice and status phases on a gateway with ARCHIVER=off. */
export interface ArchiveOffRound {
  voice: PhaseResult;
  status: StatusOutcome;
  calls: number;
  books: Awaited<ReturnType<typeof checkBooks>>;
  bad: { voice: number; status: number };
  gatewayWarnLines: number;
}

export interface Outcome {
  env: ReturnType<typeof benchEnv>;
  /** Round 1: the same phases on a gateway with ARCHIVER=off. */
  archiveOff: ArchiveOffRound;
  /** Round 3, after the archiving round 2: ARCHIVER=off again (session 24). */
  archiveOffAfter: ArchiveOffRound;
  catchUp: CatchUpOutcome;
  voice: PhaseResult;
  status: StatusOutcome;
  /** The bare route right after round 1 and at the end: the ratios take the faster, so a
   *  slow moment of the bare route never flatters the gateway. */
  bareEarly: PhaseResult;
  bareLate: PhaseResult;
  bad: { voice: number; status: number; bare: number };
  samples: Record<string, string>;
  calls: number;
  books: Awaited<ReturnType<typeof checkBooks>>;
  lifecycle: LifecycleOutcome;
  archive: ArchiveOutcome;
  gatewayWarnLines: number;
}

/** Prints the report and returns whether every correctness check passed. */
export function printReport(o: Outcome): boolean {
  const { voice, books, lifecycle: lc } = o;
  const bareRun = o.bareEarly.rps >= o.bareLate.rps ? o.bareEarly : o.bareLate;
  const status = o.status.status;
  const { checks, balanceOk, metricsOk } = books;
  const C = opts.connections;
  const off = o.archiveOff;
  const off2 = o.archiveOffAfter;
  const rows = [
    row('voice', voice, o.bad.voice),
    row('status', status, o.bad.status),
    row('bare', bareRun, o.bad.bare),
    row('voiceArchiveOff', off.voice, off.bad.voice),
    row('statusArchiveOff', off.status.status, off.bad.status),
    row('voiceArchiveOff2', off2.voice, off2.bad.voice),
    row('statusArchiveOff2', off2.status.status, off2.bad.status),
    row(bareRun === o.bareEarly ? 'bareLate' : 'bareEarly', bareRun === o.bareEarly ? o.bareLate : o.bareEarly, 0),
  ];
  const ratio = (a: number, b: number) => (b > 0 ? r2(a / b) : 0);
  const mean = (a: number, b: number) => (a + b) / 2;
  const ratios = {
    voiceBare: ratio(voice.rps, bareRun.rps),
    statusBare: ratio(status.rps, bareRun.rps),
    voiceArchiveOffBare: ratio(off.voice.rps, bareRun.rps),
    statusArchiveOffBare: ratio(off.status.status.rps, bareRun.rps),
    /** Archiving on ÷ off, same run: 1.0 is no loss. Off is the mean of the rounds before
     *  and after the archiving one (session 24); the first alone as before, beside it. */
    statusArchiveOnOff: ratio(status.rps, mean(off.status.status.rps, off2.status.status.rps)),
    voiceArchiveOnOff: ratio(voice.rps, mean(off.voice.rps, off2.voice.rps)),
    statusArchiveOnOffBefore: ratio(status.rps, off.status.status.rps),
    voiceArchiveOnOffBefore: ratio(voice.rps, off.voice.rps),
    statusArchiveOffAfterBefore: ratio(off2.status.status.rps, off.status.status.rps),
  };
  const targets = {
    minRatio: 0.8,
    maxP99Ms: 10,
    voiceRatioMet: ratios.voiceBare >= 0.8,
    statusRatioMet: ratios.statusBare >= 0.8,
    voiceP99Met: voice.p99 <= 10,
    statusP99Met: status.p99 <= 10,
  };
  const cleanRuns = rows.every((r) => r.errors === 0 && r.timeouts === 0 && r.non2xx === 0 && r.badBody === 0);
  const offOk = [off, off2].every((r) => r.books.balanceOk && r.books.metricsOk && !r.status.status.exhausted);
  const ok = cleanRuns && balanceOk && metricsOk && !status.exhausted && lc.ok && o.archive.ok && offOk && o.catchUp.ok;

  const out = reportHeader(
    'webhook bench',
    o.env,
    `${C} connections, warm-up ${opts.warmup} s + measured ${opts.duration} s per phase; ` +
      'gateway = node dist/main.js (NODE_ENV=production, LOG_LEVEL=warn); bare = node scripts/bench/webhooks/bare-ceiling.mjs',
  );
  const head1 = ['phase', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'requests', 'errors', 'timeouts', 'non-2xx', 'bad TwiML', 'server%', 'redis%', 'loadgen%', 'others%'];
  const table = rows.map((r) => [
    r.phase,
    fmtInt(r.rps),
    r.p50.toFixed(2),
    r.p90.toFixed(2),
    r.p99.toFixed(2),
    r.max.toFixed(1),
    fmtInt(r.requests),
    String(r.errors),
    String(r.timeouts),
    String(r.non2xx),
    String(r.badBody),
    pctCell(r.cpu.server),
    pctCell(r.cpu.redis),
    pctCell(r.cpu.gen),
    pctCell(r.cpu.other),
  ]);
  out.push(...formatTable(head1, table, (i) => i > 0));
  out.push('(server% redis% loadgen% others% = CPU in % of one core during the measured run; others = the rest of the machine)');
  const saturated = rows.filter((r) => r.cpu.gen >= 90).map((r) => r.phase);
  if (saturated.length > 0) {
    out.push(`WARNING: the load generator used ≥ 90% of a core in: ${saturated.join(', ')}; those figures are floors, not the server's capacity`);
  }
  out.push('');
  const mark = (met: boolean) => (met ? 'ok' : 'MISSED');
  out.push(
    `bare: the faster of its two runs, after round 1 (${fmtInt(o.bareEarly.rps)} req/s) and at the end (${fmtInt(o.bareLate.rps)} req/s); ` +
      'voice ÷ bare in alternated slices: npm run bench:webhooks -- --only ab --ab-bare',
  );
  out.push(`voice/bare   ${ratios.voiceBare.toFixed(2)}   (target ≥ 0.80: ${mark(targets.voiceRatioMet)})`);
  out.push(`status/bare  ${ratios.statusBare.toFixed(2)}   (target ≥ 0.80: ${mark(targets.statusRatioMet)})`);
  out.push(
    `archiving on ÷ off (same run; off: the mean of rounds 1 and 3, around the archiving round 2): status ${ratios.statusArchiveOnOff.toFixed(2)}, ` +
      `voice ${ratios.voiceArchiveOnOff.toFixed(2)} (voice archives nothing: the control); against round 1 alone: status ` +
      `${ratios.statusArchiveOnOffBefore.toFixed(2)}, voice ${ratios.voiceArchiveOnOffBefore.toFixed(2)}; round 3 ÷ round 1, status: ` +
      `${ratios.statusArchiveOffAfterBefore.toFixed(2)} (off: status/bare ${ratios.statusArchiveOffBare.toFixed(2)}, voice/bare ${ratios.voiceArchiveOffBare.toFixed(2)})`,
  );
  out.push(
    `p99 ≤ 10 ms  voice ${voice.p99.toFixed(2)} ms: ${mark(targets.voiceP99Met)}; status ${status.p99.toFixed(2)} ms: ${mark(targets.statusP99Met)}`,
  );
  out.push('');
  const s = o.status;
  out.push(
    `calls: ${fmtInt(o.calls)} authorized${s.toppedUp ? ` (${fmtInt(s.toppedUp)} of them by an unmeasured top-up)` : ''}, ` +
      `${fmtInt(s.completedTotal)} completed once each (${fmtInt(s.completedMeasured)} in the measured status run, ${fmtInt(s.drained)} afterwards)`,
  );
  out.push(
    `balance: reserved ${checks.reserved} (${mark(checks.reserved === 0)}), active calls ${checks.activeCalls} (${mark(checks.activeCalls === 0)}), ` +
      `debit ${fmtInt(checks.debit)} vs ${MINUTES_PER_CALL} × ${fmtInt(o.calls)} = ${fmtInt(checks.expectedDebit)} (${mark(checks.debit === checks.expectedDebit)}), ` +
      `used this cycle ${fmtInt(checks.usedThisCycle)} (${mark(checks.usedThisCycle === checks.expectedDebit)})`,
  );
  out.push(
    `metrics: allowed ${fmtInt(checks.metricsAllowed)}, finalized ${fmtInt(checks.metricsFinalized)}, duplicate ${checks.metricsDuplicate}, ` +
      `unknown_call ${checks.metricsUnknownCall} (${mark(metricsOk)}); gateway warn/error log lines: ${o.gatewayWarnLines}`,
  );
  out.push(
    `lifecycle: ${fmtInt(lc.calls)} calls (${fmtInt(lc.requests)} counted requests), wrong answers ${lc.wrongAnswers}, reserved ${lc.reserved}, active calls ${lc.activeCalls}, ` +
      `debit ${fmtInt(lc.debit)} vs ${MINUTES_PER_CALL} × ${fmtInt(lc.calls)} = ${fmtInt(lc.expectedDebit)} (${mark(lc.ok)})${lc.firstWrong ? `; first wrong answer: ${lc.firstWrong}` : ''}`,
  );
  const a = o.archive;
  out.push(
    `archive: ${fmtInt(a.archived)}/${fmtInt(a.entries)} ledger entries and ${fmtInt(a.callRows)} call records in PostgreSQL (${mark(a.ok)}), ` +
      `${a.waitedMs} ms after the status run; lag per entry p50 ≤ ${a.lagP50Seconds} s, p99 ≤ ${a.lagP99Seconds} s ` +
      `(target p99 ≤ 5 s: ${mark(a.lagP99Seconds !== null && a.lagP99Seconds <= 5)}); ${a.booksBytesPerCall ?? '-'} bytes of PostgreSQL per call`,
  );
  out.push(printCatchUp(o.catchUp));
  for (const [label, r] of [['round 1', off], ['round 3', off2]] as const) {
    out.push(
      `${label} (ARCHIVER=off): ${fmtInt(r.calls)} calls, debit ${fmtInt(r.books.checks.debit)} vs ${fmtInt(r.books.checks.expectedDebit)}, ` +
        `books ${mark(r.books.balanceOk)}, metrics ${mark(r.books.metricsOk)}; gateway warn/error log lines: ${r.gatewayWarnLines}`,
    );
  }
  for (const [label, sample] of Object.entries(o.samples)) out.push(`first unexpected ${label} answer: ${sample}`);
  if (status.exhausted) out.push('WARNING: the status run ran out of authorized calls and stopped early');
  out.push('');
  const cell = (x: number | null) => (x === null ? '-' : `${x} µs`);
  out.push(`gateway CPU per webhook (measured runs, /proc): voice ${cell(rows[0]!.serverCpuUsPerRequest)}, status <Dial action> ${cell(rows[1]!.serverCpuUsPerRequest)}; bare ceiling ${cell(rows[2]!.serverCpuUsPerRequest)}`);
  out.push(`  with ARCHIVER=off: voice ${cell(rows[3]!.serverCpuUsPerRequest)}, status <Dial action> ${cell(rows[4]!.serverCpuUsPerRequest)}`);
  out.push(...callCostLines(lc.cost, lc.redisLabel));
  out.push('');
  out.push(`result: ${ok ? 'all correctness checks passed' : 'CORRECTNESS CHECKS FAILED'} (shared machine: compare ratios, not absolutes)`);
  process.stdout.write(`${out.join('\n')}\n`);

  const json = {
    bench: 'webhooks',
    ...o.env,
    connections: C,
    warmupS: opts.warmup,
    durationS: opts.duration,
    results: Object.fromEntries(rows.map((r) => [r.phase, { ...r, phase: undefined }])),
    ratios,
    targets,
    costPerCall: lc.cost,
    archive: o.archive,
    catchUp: o.catchUp,
    checks: { ...checks, balanceOk, metricsOk, archiveOff: { ...off.books.checks, balanceOk: off.books.balanceOk, metricsOk: off.books.metricsOk }, archiveOffAfter: { ...off2.books.checks, balanceOk: off2.books.balanceOk, metricsOk: off2.books.metricsOk }, lifecycle: { ...lc, cost: undefined }, ok },
  };
  process.stdout.write(`${JSON.stringify(json)}\n`);
  return ok;
}

/** CPU µs per request of every process on the machine (server, Redis, load generator,
 *  the rest), from the phase's shares of a core; null without /proc. */
function machineUs(r: Row): number | null {
  const us = usPerRequest(machinePct(r.cpu), r.rps);
  return us === null ? null : Math.round(us);
}

/** `--only quick`: the ARCHIVER=off gateway's voice and status runs against the bare
 *  ceiling, with each server's CPU per request — a loop for trying a change, not a report
 *  for BENCHMARKS.md's current figures (no archive, lifecycle or catch-up). */
export function printQuickReport(env: ReturnType<typeof benchEnv>, runs: { voice: PhaseResult; status: PhaseResult; bare: PhaseResult }, checksOk: boolean): boolean {
  const rows = [row('voice', runs.voice, 0), row('status', runs.status, 0), row('bare', runs.bare, 0)];
  const out = reportHeader('webhook bench (quick)', env, `${opts.connections} connections, warm-up ${opts.warmup} s + measured ${opts.duration} s per phase; ARCHIVER=off`);
  const head = ['phase', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'non-2xx', 'server%', 'redis%', 'loadgen%', 'others%', 'server µs/req', 'all µs/req'];
  const table = rows.map((r) => [
    r.phase,
    fmtInt(r.rps),
    r.p50.toFixed(2),
    r.p99.toFixed(2),
    String(r.errors + r.timeouts),
    String(r.non2xx),
    pctCell(r.cpu.server),
    pctCell(r.cpu.redis),
    pctCell(r.cpu.gen),
    pctCell(r.cpu.other),
    r.serverCpuUsPerRequest === null ? '-' : String(r.serverCpuUsPerRequest),
    machineUs(r) === null ? '-' : String(machineUs(r)),
  ]);
  out.push(...formatTable(head, table, (i) => i > 0));
  const bareRps = rows[2]!.rps;
  // Where each server's own CPU per request went, by thread (/proc/<pid>/task).
  const split = [['voice', runs.voice], ['status', runs.status], ['bare', runs.bare]] as const;
  if (split.every(([, r]) => r.serverThreads)) {
    out.push('');
    out.push(
      ...formatTable(
        ['server', 'main thread user µs/req', 'main thread sys µs/req', 'other threads µs/req', 'main thread waits/req', 'preemptions/req'],
        split.map(([name, r]) => {
          const t = r.serverThreads!;
          return [name, String(t.mainUserUs), String(t.mainSysUs), String(t.helpersUs), String(t.waits), String(t.preemptions)];
        }),
        (i) => i > 0,
      ),
    );
  }
  // The server, Redis and the load generator share the machine's cores: on a saturated
  // machine the throughput ratio tends to the inverse ratio of these sums.
  const [mv, ms, mb] = rows.map(machineUs);
  if (mv && ms && mb) out.push(`all processes' CPU per request, bare ÷ gateway: voice ${r2(mb / mv)}, status ${r2(mb / ms)}`);
  const ok = checksOk && rows.every((r) => r.errors === 0 && r.timeouts === 0 && r.non2xx === 0);
  out.push(`voice/bare ${bareRps > 0 ? r2(rows[0]!.rps / bareRps) : 0}, status/bare ${bareRps > 0 ? r2(rows[1]!.rps / bareRps) : 0}`);
  out.push(`result: ${ok ? 'correctness checks passed (books, answers)' : 'CORRECTNESS CHECKS FAILED'}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return ok;
}

/** The catch-up phase's line: what archiving costs per call, alone. */
export function printCatchUp(cu: CatchUpOutcome): string {
  return (
    `archive alone (round 1's backlog, catch-up): ${fmtInt(cu.callsMeasured)} calls in ${fmtInt(cu.windowMs)} ms (${cu.ok ? 'ok' : 'MISSED'}); per call: ` +
    `gateway ${cu.gatewayUsPerCall ?? '-'} µs, Redis ${cu.redisUsPerCall ?? '-'} µs, rest of the machine (PostgreSQL) ${cu.othersUsPerCall ?? '-'} µs`
  );
}
