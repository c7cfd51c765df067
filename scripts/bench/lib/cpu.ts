// CPU accounting (Linux /proc) and the gateway's memory.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { hrMs } from './util.js';

// Where the cores went during a measured window, in % of one core: the load generator
// (this process and its helper processes), the server under test, Redis, and everything
// else on the machine (on a shared box: the other engineer's work). Without /proc the
// figures are null.

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

export function procCpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

/** Where a process's CPU went: its main thread's user and system time, its other threads'
 *  (V8's collector and compiler helpers, libuv's pool) and the main thread's context
 *  switches — voluntary ones are its waits for I/O, the others preemptions. Null without
 *  /proc. */
export interface ThreadSplit {
  mainUserMs: number;
  mainSysMs: number;
  helpersMs: number;
  voluntary: number;
  involuntary: number;
}

export function threadSplit(pid: number | undefined): ThreadSplit | null {
  if (pid === undefined) return null;
  try {
    const out: ThreadSplit = { mainUserMs: 0, mainSysMs: 0, helpersMs: 0, voluntary: 0, involuntary: 0 };
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const user = (Number(f[11]) * 1000) / CLK_TCK;
      const sys = (Number(f[12]) * 1000) / CLK_TCK;
      if (tid !== String(pid)) {
        out.helpersMs += user + sys;
        continue;
      }
      out.mainUserMs = user;
      out.mainSysMs = sys;
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      out.voluntary = Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      out.involuntary = Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    }
    return out;
  } catch {
    return null;
  }
}

/** A ThreadSplit's difference over a run, per request. */
export interface ThreadSplitPerRequest {
  mainUserUs: number;
  mainSysUs: number;
  helpersUs: number;
  waits: number;
  preemptions: number;
}

/** The difference b − a, per request (µs, and context switches per request). */
export function threadSplitPer(a: ThreadSplit | null, b: ThreadSplit | null, requests: number): ThreadSplitPerRequest | null {
  if (!a || !b || requests <= 0) return null;
  const us = (x: number, y: number) => Math.round(((y - x) * 1000) / requests);
  const per = (x: number, y: number) => Math.round(((y - x) / requests) * 100) / 100;
  return {
    mainUserUs: us(a.mainUserMs, b.mainUserMs),
    mainSysUs: us(a.mainSysMs, b.mainSysMs),
    helpersUs: us(a.helpersMs, b.helpersMs),
    waits: per(a.voluntary, b.voluntary),
    preemptions: per(a.involuntary, b.involuntary),
  };
}

export function machineBusyMs(): number | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // fields: user nice system idle iowait irq softirq steal; busy = all but idle and iowait
    const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
    return (busy * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

/** Redis may run elsewhere (no pid to read), so its own INFO counters are used. */
export async function redisCpuMs(redis: Redis | null): Promise<number | null> {
  if (!redis) return null;
  try {
    const info = await redis.info('cpu');
    const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]);
    const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]);
    return Number.isFinite(sys + user) ? (sys + user) * 1000 : null;
  } catch {
    return null;
  }
}

export interface CpuSample {
  wall: number;
  self: number;
  server: number | null;
  helpers: number | null;
  redis: number | null;
  machine: number | null;
}

/** `helperPids`: load-generator processes of this bench (the ws bench's fan-out clients). */
export async function cpuSample(redis: Redis | null, serverPid: number | undefined, helperPids: (number | undefined)[] = []): Promise<CpuSample> {
  const u = process.cpuUsage();
  const helpers = helperPids.map(procCpuMs);
  return {
    wall: hrMs(),
    self: (u.user + u.system) / 1000,
    server: procCpuMs(serverPid),
    helpers: helpers.some((h) => h === null) ? null : helpers.reduce<number>((a, b) => a + b!, 0),
    redis: await redisCpuMs(redis),
    machine: machineBusyMs(),
  };
}

export interface CpuShare {
  server: number | null;
  redis: number | null;
  /** This process plus its helper processes. */
  loadgen: number;
  /** The largest single load-generator process (a saturated one makes figures floors). */
  loadgenMaxProc: number;
  other: number | null;
}

export function cpuShare(a: CpuSample, b: CpuSample, helperCount = 0): CpuShare {
  const wall = b.wall - a.wall;
  const pct = (x: number | null, y: number | null) => (x === null || y === null ? null : Math.round(((y - x) / wall) * 100));
  const self = pct(a.self, b.self)!;
  const helpers = pct(a.helpers, b.helpers);
  const loadgen = self + (helpers ?? 0);
  const server = pct(a.server, b.server);
  const redisPct = pct(a.redis, b.redis);
  const machine = pct(a.machine, b.machine);
  const other = machine === null ? null : Math.max(0, machine - loadgen - (server ?? 0) - (redisPct ?? 0));
  const perHelper = helpers === null || helperCount === 0 ? 0 : helpers / helperCount;
  return { server, redis: redisPct, loadgen, loadgenMaxProc: Math.round(Math.max(self, perHelper)), other };
}

/** CPU µs per request from a share of one core (%) at `rps` requests a second; null when
 *  the share is unknown. */
export function usPerRequest(pctOfCore: number | null, rps: number): number | null {
  return pctOfCore === null || rps <= 0 ? null : (pctOfCore * 10_000) / rps;
}

/** The resident set (VmRSS) of a process in MB, null without /proc. */
export function vmRssMb(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}
