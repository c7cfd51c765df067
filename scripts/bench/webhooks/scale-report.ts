// The scale phase's report: a row per configuration, what limits each (read off the CPU
// figures), the checks; then one JSON line (for BENCHMARKS.md).
import os from 'node:os';
import { benchEnv, formatTable, pctCell, reportHeader } from '../lib/report.js';
import { fmtInt } from '../lib/util.js';
import { opts } from './context.js';

/** CPU in % of one core over a measured run. */
export interface ScaleCpu {
  /** Each gateway process. */
  gateways: (number | null)[];
  /** Each redis-server (INFO cpu), and their sum. */
  redisNodes: (number | null)[];
  redis: number | null;
  /** This process: the autocannon runs, one per gateway. */
  loadgen: number;
  /** The whole machine's busy time, and what of it none of the above accounts for. */
  machine: number | null;
  others: number | null;
}

export interface ScaleRow {
  config: string;
  gateways: number;
  redis: 'standalone' | 'cluster';
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  durationS: number;
  cpu: ScaleCpu;
  checks: {
    authorized: number;
    cutOffAsked: number;
    cutOffAuthorized: number;
    reservedDelta: number;
    activeCallsDelta: number;
    balanceDelta: number;
    allowedCounted: number;
    badTwiml: number;
    errors: number;
    timeouts: number;
    non2xx: number;
  };
  firstBad: string | null;
  ok: boolean;
}

/** A process this busy (% of one core) is taken as saturated; a machine this busy (share of
 *  all its cores) as well. */
const PROCESS_SATURATED = 85;
const MACHINE_SATURATED = 0.9;

/**
 * What limits a configuration, from its CPU figures alone: the machine when its cores are
 * (nearly) all busy; else the busiest single process when it is near a full core (Node and
 * Redis each run their work on one thread); else none of them, i.e. latency at this
 * number of connections.
 */
export function limitOf(c: ScaleCpu, cores: number): string {
  const gws = c.gateways.map((g) => g ?? 0);
  const parts = `gateways ${gws.join(' + ')}%, Redis ${pctCell(c.redis)}%, load generator ${c.loadgen}%, others ${pctCell(c.others)}%`;
  if (c.machine !== null && c.machine >= cores * 100 * MACHINE_SATURATED) {
    return `machine-bound: ${cores} cores saturated (busy ${c.machine}% of ${cores * 100}%: ${parts})`;
  }
  const candidates: { what: string; pct: number }[] = [
    ...gws.map((pct) => ({ what: 'gateway', pct })),
    ...c.redisNodes.map((pct) => ({ what: 'redis', pct: pct ?? 0 })),
    { what: 'loadgen', pct: c.loadgen },
  ];
  const top = candidates.reduce((a, b) => (b.pct > a.pct ? b : a));
  if (top.pct < PROCESS_SATURATED) {
    return `not CPU-bound (busiest process ${top.what} at ${top.pct}%, machine ${pctCell(c.machine)}% of ${cores * 100}%): latency-bound at ${opts.connections} connections`;
  }
  if (top.what === 'gateway') {
    if (gws.every((g) => g >= PROCESS_SATURATED)) {
      return `gateway CPU-bound: ${gws.length} process${gws.length > 1 ? 'es' : ''} × ${gws.join('% / ')}% (${parts})`;
    }
    // Each load run is closed-loop on its own gateway: one saturated gateway holds back its half.
    return `gateway CPU-bound: the busiest of ${gws.length} gateways at ${top.pct}%, the load uneven between them (${parts})`;
  }
  if (top.what === 'redis') {
    const nodes = c.redisNodes.length;
    return `Redis-bound: ${nodes > 1 ? `the busiest of ${nodes} redis-servers` : 'the redis-server'} at ${top.pct}% (${parts})`;
  }
  return `load-generator-bound: this process at ${top.pct}% of a core, so the figures are floors (${parts})`;
}

/** Prints the report and returns whether every configuration's checks passed. */
export function printScaleReport(env: ReturnType<typeof benchEnv>, rows: ScaleRow[]): boolean {
  const cores = os.cpus().length;
  const ok = rows.length === 4 && rows.every((r) => r.ok);
  const out = reportHeader(
    'webhook bench, scale phase',
    env,
    `signed POST /twilio/voice, ${opts.connections} connections in all (split between the gateways), warm-up ${opts.warmup} s + measured ${opts.scaleDuration} s per configuration; ` +
      'gateway = node dist/main.js (NODE_ENV=production, LOG_LEVEL=warn); Redis = a private redis-server, or a local 3-master cluster',
  );
  const head = ['configuration', 'req/s', 'p50 ms', 'p99 ms', 'requests', 'gateway%', 'redis%', 'loadgen%', 'machine%', 'others%', 'authorized', 'reserved once'];
  const table = rows.map((r) => [
    r.config,
    fmtInt(r.rps),
    r.p50.toFixed(2),
    r.p99.toFixed(2),
    fmtInt(r.requests),
    r.cpu.gateways.map(pctCell).join(' + '),
    r.cpu.redisNodes.length > 1 ? `${pctCell(r.cpu.redis)} (${r.cpu.redisNodes.map(pctCell).join('+')})` : pctCell(r.cpu.redis),
    String(r.cpu.loadgen),
    pctCell(r.cpu.machine),
    pctCell(r.cpu.others),
    fmtInt(r.checks.authorized),
    r.ok ? 'ok' : 'FAILED',
  ]);
  out.push(...formatTable(head, table, (i) => i > 0 && i < 11));
  out.push(
    `(CPU in % of one core during the measured run, /proc and INFO cpu; machine = all ${cores} cores' busy time, at most ${cores * 100}%; ` +
      'others = the rest of the machine; redis% of the cluster = the sum of its 3 redis-servers)',
  );
  // Every key of an account carries its {accountId} hash tag, so the one bench account's
  // work lands on one master: the cluster adds shards for more accounts, not for one.
  out.push('(the bench meters one account: its keys share one hash slot, so one of the cluster\'s masters does all of its Redis work)');
  out.push('', 'what limits each (from the CPU figures):');
  const limits = rows.map((r) => limitOf(r.cpu, cores));
  rows.forEach((r, i) => out.push(`  ${r.config.padEnd(24)} ${limits[i]}`));
  out.push('', 'checks (warm-up and measured run together): reserved and activeCalls grew by the calls authorized, balance unchanged, the gateways\' allowed counters agree');
  for (const r of rows) {
    const c = r.checks;
    out.push(
      `  ${r.config.padEnd(24)} authorized ${fmtInt(c.authorized)} (${c.cutOffAuthorized} of ${c.cutOffAsked} cut-off requests), reserved +${fmtInt(c.reservedDelta)}, ` +
        `active calls +${fmtInt(c.activeCallsDelta)}, balance ${c.balanceDelta >= 0 ? '+' : ''}${c.balanceDelta}, allowed counted ${fmtInt(c.allowedCounted)}, ` +
        `bad TwiML ${c.badTwiml}, errors ${c.errors}, timeouts ${c.timeouts}, non-2xx ${c.non2xx}: ${r.ok ? 'ok' : 'FAILED'}` +
        (r.firstBad ? `; first bad answer: ${r.firstBad}` : ''),
    );
  }
  out.push('', `result: ${ok ? 'all correctness checks passed' : 'CORRECTNESS CHECKS FAILED'} (shared machine: compare ratios, not absolutes)`);
  process.stdout.write(`${out.join('\n')}\n`);

  const json = {
    bench: 'webhooks',
    phase: 'scale',
    ...env,
    connections: opts.connections,
    warmupS: opts.warmup,
    durationS: opts.scaleDuration,
    scale: rows.map((r, i) => ({ ...r, limit: limits[i] })),
    ok,
  };
  process.stdout.write(`${JSON.stringify(json)}\n`);
  return ok;
}
