// Phase `catch-up` (R19, issue #17): what archiving costs per call, alone. The first round's
// calls were settled by a gateway with ARCHIVER=off, so their ledger entries wait in Redis;
// an archiving gateway is then started and this phase measures, from the moment it is
// ready until its /metrics count every entry archived, its CPU, Redis's and the rest of the
// machine's (PostgreSQL's, mostly), per call archived in that window. Nothing else runs.
import { scrapeMetrics } from '../lib/api.js';
import { cpuUsPer } from '../lib/cost.js';
import { cpuSample } from '../lib/cpu.js';
import type { Child } from '../lib/processes.js';
import { fmtInt, sleep } from '../lib/util.js';
import { log, shared } from './context.js';

export interface CatchUpOutcome {
  entries: number;
  /** Archived by the time the gateway answered /readyz (its start-up sweep runs at once). */
  archivedBeforeReady: number;
  /** Entries and calls archived in the measured window, and how long it took (ms). */
  entriesMeasured: number;
  callsMeasured: number;
  windowMs: number;
  /** µs per call archived in the window: the gateway, Redis, the rest of the machine. */
  gatewayUsPerCall: number | null;
  redisUsPerCall: number | null;
  othersUsPerCall: number | null;
  ok: boolean;
}

async function archived(port: number): Promise<{ entries: number; calls: number }> {
  const m = await scrapeMetrics(port);
  return { entries: m.get('minutegate_archived_total{kind="entry"}') ?? 0, calls: m.get('minutegate_archived_total{kind="call"}') ?? 0 };
}

export async function catchUpPhase(gw: Child, entries: number): Promise<CatchUpOutcome> {
  const a = await cpuSample(shared.redis, gw.proc.pid);
  const first = await archived(gw.port);
  let last = first;
  const started = Date.now();
  while (last.entries < entries && Date.now() - started < 120_000) {
    await sleep(100);
    last = await archived(gw.port);
  }
  const b = await cpuSample(shared.redis, gw.proc.pid);
  const calls = last.calls - first.calls;
  const ms = (x: number | null, y: number | null) => (x === null || y === null ? null : y - x);
  const server = ms(a.server, b.server);
  const redis = ms(a.redis, b.redis);
  const machine = ms(a.machine, b.machine);
  const others = machine === null ? null : Math.max(0, machine - (b.self - a.self) - (server ?? 0) - (redis ?? 0));
  const out: CatchUpOutcome = {
    entries,
    archivedBeforeReady: first.entries,
    entriesMeasured: last.entries - first.entries,
    callsMeasured: calls,
    windowMs: Math.round(b.wall - a.wall),
    gatewayUsPerCall: cpuUsPer(server, calls),
    redisUsPerCall: cpuUsPer(redis, calls),
    othersUsPerCall: cpuUsPer(others, calls),
    ok: last.entries === entries,
  };
  log(
    `catch-up: ${fmtInt(out.entriesMeasured)} entries (${fmtInt(calls)} calls) archived in ${out.windowMs} ms after ready ` +
      `(${fmtInt(out.archivedBeforeReady)} before); per call: gateway ${out.gatewayUsPerCall} µs, Redis ${out.redisUsPerCall} µs, ` +
      `others (PostgreSQL) ${out.othersUsPerCall} µs`,
  );
  return out;
}
