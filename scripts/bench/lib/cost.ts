/**
 * Cost in machine-independent units (issue #12): what one call (or one request, one
 * socket) takes from Redis and from the gateway, and the capacity that follows from it.
 * Unlike req/s on a shared 2-core box, these do not depend on what else the machine runs:
 * Redis counts its own commands and time (INFO commandstats, INFO cpu), the gateway's CPU
 * time is its own process's (/proc/<pid>/stat).
 */
import type { Redis } from 'ioredis';
import { procCpuMs, redisCpuMs } from './cpu.js';
import { commandStats, commandStatsDelta, type CommandStat } from './redis.js';
import { fmtInt, r1 } from './util.js';

export interface CostSnapshot {
  stats: Map<string, CommandStat>;
  redisCpuMs: number | null;
  gatewayCpuMs: number | null;
}

export async function costSnapshot(redis: Redis, gatewayPid: number | undefined): Promise<CostSnapshot> {
  return { stats: await commandStats(redis), redisCpuMs: await redisCpuMs(redis), gatewayCpuMs: procCpuMs(gatewayPid) };
}

/** Per-call figures between two snapshots taken around `calls` full call lifecycles. */
export interface CallCost {
  calls: number;
  requestsPerCall: number;
  redisCommandsPerCall: number;
  redisScriptCallsPerCall: number;
  /** INFO commandstats usec summed: command execution time, no network I/O. */
  redisCommandUsPerCall: number;
  /** The scripts' own usec (which includes the commands they run). */
  redisScriptUsPerCall: number;
  /** INFO cpu (user + sys) of the Redis process: includes network I/O. */
  redisCpuUsPerCall: number | null;
  gatewayCpuUsPerCall: number | null;
  gatewayCpuUsPerRequest: number | null;
  /** From MONITOR (commandsSent): per call, the commands the gateway sent, by name, and how
   *  many its scripts ran. */
  sent?: { byName: Record<string, number>; total: number; inScripts: number; calls: number };
}

/** Runs `work` (`calls` call lifecycles) under MONITOR and splits what Redis executed into
 *  the commands the gateway sent (its round trips' contents) and those its scripts ran. */
export async function commandsSent(redis: Redis, work: () => Promise<unknown>, calls: number): Promise<CallCost['sent']> {
  const mon = await redis.monitor();
  // ioredis's MONITOR connection can lose track of its reply queue under load ("Command
  // queue state error", seen once in session 20): the counts are then incomplete, so the
  // figure is left out rather than the run lost.
  let broken: Error | null = null;
  mon.on('error', (err: Error) => (broken ??= err));
  const byName: Record<string, number> = {};
  let inScripts = 0;
  mon.on('monitor', (_time: string, args: string[], source: string) => {
    if (source === 'lua') inScripts++;
    else {
      const name = String(args[0]).toUpperCase();
      byName[name] = (byName[name] ?? 0) + 1;
    }
  });
  await work();
  await new Promise((r) => setTimeout(r, 200));
  mon.disconnect();
  if (broken) {
    process.stderr.write(`[bench] MONITOR failed (${(broken as Error).message.slice(0, 80)}): commands sent per call left out\n`);
    return undefined;
  }
  const per = (x: number) => r1(x / calls);
  const total = Object.values(byName).reduce((a, b) => a + b, 0);
  return { byName: Object.fromEntries(Object.entries(byName).map(([k, v]) => [k, per(v)])), total: per(total), inScripts: per(inScripts), calls };
}

export function callCost(a: CostSnapshot, b: CostSnapshot, calls: number, requests: number): CallCost {
  const d = commandStatsDelta(a.stats, b.stats);
  const per = (x: number) => (calls > 0 ? x / calls : 0);
  const gw = a.gatewayCpuMs === null || b.gatewayCpuMs === null ? null : (b.gatewayCpuMs - a.gatewayCpuMs) * 1000;
  const rc = a.redisCpuMs === null || b.redisCpuMs === null ? null : (b.redisCpuMs - a.redisCpuMs) * 1000;
  return {
    calls,
    requestsPerCall: r1(per(requests)),
    redisCommandsPerCall: r1(per(d.commands)),
    redisScriptCallsPerCall: r1(per(d.scriptCalls)),
    redisCommandUsPerCall: r1(per(d.usec)),
    redisScriptUsPerCall: r1(per(d.scriptUsec)),
    redisCpuUsPerCall: rc === null ? null : r1(per(rc)),
    gatewayCpuUsPerCall: gw === null ? null : r1(per(gw)),
    gatewayCpuUsPerRequest: gw === null || requests === 0 ? null : r1(gw / requests),
  };
}

/** Gateway CPU µs per unit of work (request, authorization) from a CPU window's ms delta. */
export const cpuUsPer = (cpuMs: number | null, units: number): number | null => (cpuMs === null || units <= 0 ? null : r1((cpuMs * 1000) / units));

const perSecond = (us: number | null) => (us === null || us <= 0 ? '-' : fmtInt(1e6 / us));
const us = (x: number | null) => (x === null ? '-' : `${x} µs`);

/** The printed lines: the measured units, then the capacity derived from them. */
export function callCostLines(c: CallCost, redisLabel: string): string[] {
  return [
    `cost per call (${fmtInt(c.calls)} full lifecycles: voice webhook + 4 leg status callbacks + <Dial action> + the parent's completed callback = ${c.requestsPerCall} requests; ${redisLabel}; the gateway's periodic work meanwhile included):`,
    `  Redis commands      ${c.redisCommandsPerCall} per call (${c.redisScriptCallsPerCall} of them Lua script calls; INFO commandstats also counts each command a script runs)`,
    ...(c.sent
      ? [
          `  sent by the gateway ${c.sent.total} commands per call (${Object.entries(c.sent.byName)
            .sort((x, y) => y[1] - x[1])
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}); ${c.sent.inScripts} more run inside its scripts (MONITOR over ${c.sent.calls} more calls; the gateway's periodic jobs included)`,
        ]
      : []),
    `  Redis command time  ${us(c.redisCommandUsPerCall)} per call (INFO commandstats usec summed: execution only, a script's time counted with its commands' again; scripts alone ${us(c.redisScriptUsPerCall)})`,
    `  Redis CPU           ${us(c.redisCpuUsPerCall)} per call (INFO cpu user+sys of the Redis process: network I/O included)`,
    `  gateway CPU         ${us(c.gatewayCpuUsPerCall)} per call, ${us(c.gatewayCpuUsPerRequest)} per webhook`,
    `capacity (DERIVED: 1e6 / µs per call, one core fully busy, no other work):`,
    `  calls/s per gateway core   ${perSecond(c.gatewayCpuUsPerCall)}`,
    `  calls/s per Redis shard    ${perSecond(c.redisCpuUsPerCall)} by Redis CPU; ${perSecond(c.redisCommandUsPerCall)} by command time (execution only: no network I/O, and a script's commands counted twice)`,
  ];
}
