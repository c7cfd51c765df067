/**
 * Phase `scale` (issue #12, "Scale-out, measured"): signed POST /twilio/voice
 * authorizations (the voice phase's bodies) in four configurations, each a warm-up then a
 * measured run of --scale-duration seconds at --connections in all:
 *
 *   1 gateway  on a standalone redis-server (private: started for this phase)
 *   2 gateways on that same redis-server, the connections split between them
 *   1 gateway  on a local 3-master Redis Cluster (test/support/redis-cluster.ts)
 *   2 gateways on that cluster
 *
 * Each Redis topology is empty when it starts, so the account (the same id, identity and
 * number as the other phases') is created once per topology; every gateway of a topology
 * meters on it. The two load runs of a 2-gateway configuration run at once in this process
 * (one autocannon per gateway) and record into one histogram.
 *
 * Per configuration: req/s, p50/p99, the CPU of each gateway process, of Redis (INFO cpu
 * of every redis-server, summed) and of this process (the load generator), and the
 * machine's total busy time; and the check that every authorized call was reserved
 * exactly once: reserved and activeCalls grew by the number of authorized calls, the
 * balance did not move, and the gateways' `allowed` counters agree.
 *
 * Everything it starts (gateways, redis-servers, the cluster) is stopped on every path:
 * try/finally here, the bench's cleanup for the gateways and the private redis-server,
 * and test/support's exit hook and watchdog for the cluster's nodes on Ctrl-C.
 */
import { Redis } from 'ioredis';
import { join } from 'node:path';
import { startRedisCluster } from '../../../test/support/redis-cluster.js';
import { scrapeMetrics } from '../lib/api.js';
import { machineBusyMs, procCpuMs, redisCpuMs } from '../lib/cpu.js';
import { Hist } from '../lib/histogram.mjs';
import { gatewayEnv } from '../lib/identity.js';
import { startPrivateRedis, startServer, stopChild, type Child } from '../lib/processes.js';
import { ROOT, fmtInt, hrMs, r2, sleep } from '../lib/util.js';
import { POOL_PER_SECOND, pooled, voiceBody, type SignedBody } from './bodies.js';
import { balanceNow } from './books.js';
import { ID, callStates, createBenchAccount, log, opts } from './context.js';
import { runLoad } from './load.js';
import type { ScaleCpu, ScaleRow } from './scale-report.js';

const ALLOWED = 'minutegate_call_authorizations_total{decision="allowed"}';

interface Topology {
  name: 'standalone' | 'cluster';
  /** The gateway's Redis settings for this topology. */
  env: Record<string, string>;
  /** One client per redis-server, for INFO cpu. */
  nodes: Redis[];
  stop(): Promise<void>;
}

function nodeClient(port: number): Redis {
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  return r;
}

async function standalone(): Promise<Topology> {
  const priv = await startPrivateRedis(log);
  if (!priv) throw new Error('scale: redis-server is not installed (it needs a private one and a cluster)');
  const client = nodeClient(priv.port);
  await client.connect();
  return {
    name: 'standalone',
    env: { REDIS_URL: `redis://127.0.0.1:${priv.port}` },
    nodes: [client],
    stop: async () => {
      client.disconnect();
      await stopChild(priv);
    },
  };
}

async function cluster(): Promise<Topology> {
  log('scale: starting a 3-master Redis Cluster');
  const handle = await startRedisCluster();
  const nodes = handle.nodes.map((n) => nodeClient(n.port));
  try {
    await Promise.all(nodes.map((n) => n.connect()));
  } catch (err) {
    nodes.forEach((n) => n.disconnect());
    await handle.stop();
    throw err;
  }
  log(`scale: cluster ready on ports ${handle.nodes.map((n) => n.port).join(', ')}`);
  return {
    name: 'cluster',
    env: { REDIS_CLUSTER_NODES: handle.nodes.map((n) => `${n.host}:${n.port}`).join(',') },
    nodes,
    stop: async () => {
      nodes.forEach((n) => n.disconnect());
      await handle.stop();
    },
  };
}

function startGateway(t: Topology, n: number): Promise<Child> {
  // gatewayEnv's REDIS_URL is the shared Redis: replaced (standalone) or dropped (cluster).
  const { REDIS_URL: _shared, ...env } = gatewayEnv(ID);
  return startServer({ name: `gateway ${n} (scale, ${t.name})`, script: join(ROOT, 'dist', 'main.js'), env: { ...env, ...t.env }, readyPath: '/readyz', log });
}

/** What one configuration's requests came back as (warm-up and measured run together). */
interface Tally {
  authorized: number;
  /** 2xx answers that were not a <Dial>. */
  bad: number;
  firstBad: string | null;
  /** Requests whose outcome is unknown (cut off, or not 2xx): asked of the gateway after. */
  unknown: Set<string>;
}

/** One load run per gateway at once, the connections split between them. */
async function splitRun(gws: Child[], duration: number, next: () => SignedBody, tally: Tally, hist: Hist) {
  const C = opts.connections;
  const runs = await Promise.all(
    gws.map((gw, i) =>
      runLoad(
        {
          label: 'scale',
          port: gw.port,
          path: '/twilio/voice',
          connections: Math.floor(C / gws.length) + (i < C % gws.length ? 1 : 0),
          duration,
          next,
          onReply(sid, status, body) {
            if (status === 200 && body.includes('<Dial')) tally.authorized++;
            else if (status < 200 || status > 299) tally.unknown.add(sid);
            else {
              tally.bad++;
              tally.firstBad ??= `${status} ${body.slice(0, 200)}`;
            }
          },
        },
        hist,
      ),
    ),
  );
  runs.forEach((r) => r.unanswered.forEach((s) => tally.unknown.add(s)));
  const sum = (f: (r: (typeof runs)[number]) => number) => runs.reduce((a, r) => a + f(r), 0);
  return {
    rps: sum((r) => r.rps),
    requests: sum((r) => r.requests),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    non2xx: sum((r) => r.non2xx),
    durationS: Math.max(...runs.map((r) => r.durationS)),
  };
}

async function cpuNow(gws: Child[], nodes: Redis[]) {
  const u = process.cpuUsage();
  return {
    wall: hrMs(),
    gen: (u.user + u.system) / 1000,
    gws: gws.map((g) => procCpuMs(g.proc.pid)),
    redis: await Promise.all(nodes.map((n) => redisCpuMs(n))),
    machine: machineBusyMs(),
  };
}

function cpuBetween(a: Awaited<ReturnType<typeof cpuNow>>, b: Awaited<ReturnType<typeof cpuNow>>): ScaleCpu {
  const wall = b.wall - a.wall;
  const pct = (x: number | null | undefined, y: number | null | undefined) => (x == null || y == null ? null : Math.round(((y - x) / wall) * 100));
  const gateways = b.gws.map((y, i) => pct(a.gws[i], y));
  const redisNodes = b.redis.map((y, i) => pct(a.redis[i], y));
  const redis = redisNodes.some((x) => x === null) ? null : redisNodes.reduce<number>((s, x) => s + x!, 0);
  const loadgen = pct(a.gen, b.gen)!;
  const machine = pct(a.machine, b.machine);
  const known = loadgen + (redis ?? 0) + gateways.reduce<number>((s, x) => s + (x ?? 0), 0);
  return { gateways, redisNodes, redis, loadgen, machine, others: machine === null ? null : Math.max(0, machine - known) };
}

async function allowedCounts(gws: Child[]): Promise<number[]> {
  return Promise.all(gws.map(async (g) => (await scrapeMetrics(g.port)).get(ALLOWED) ?? 0));
}

async function runConfig(t: Topology, gws: Child[]): Promise<ScaleRow> {
  const config = `${gws.length} gateway${gws.length > 1 ? 's' : ''}, ${t.name}`;
  const before = await balanceNow(gws[0]!.port);
  const allowedBefore = await allowedCounts(gws);
  const tally: Tally = { authorized: 0, bad: 0, firstBad: null, unknown: new Set() };

  log(`scale [${config}]: warm-up ${opts.warmup} s`);
  const warm = await splitRun(gws, opts.warmup, voiceBody, tally, new Hist());
  log(`scale [${config}]: measuring ${opts.scaleDuration} s`);
  const hist = new Hist();
  const next = pooled(voiceBody, POOL_PER_SECOND * opts.scaleDuration);
  const a = await cpuNow(gws, t.nodes);
  const run = await splitRun(gws, opts.scaleDuration, next, tally, hist);
  const b = await cpuNow(gws, t.nodes);

  // A request cut off at the end of a run (or answered 5xx) may still have been authorized.
  await sleep(300);
  const unknown = [...tally.unknown];
  let resolved = 0;
  for (const state of (await callStates(gws[0]!.port, unknown)).values()) if (state === 'active') resolved++;
  const authorized = tally.authorized + resolved;
  const after = await balanceNow(gws[0]!.port);
  const allowedAfter = await allowedCounts(gws);
  const allowed = allowedAfter.reduce((s, x, i) => s + x - allowedBefore[i]!, 0);

  const checks = {
    authorized,
    cutOffAsked: unknown.length,
    cutOffAuthorized: resolved,
    reservedDelta: after.reserved - before.reserved,
    activeCallsDelta: after.activeCalls - before.activeCalls,
    balanceDelta: after.balance - before.balance,
    allowedCounted: allowed,
    badTwiml: tally.bad,
    errors: warm.errors + run.errors,
    timeouts: warm.timeouts + run.timeouts,
    non2xx: warm.non2xx + run.non2xx,
  };
  const ok =
    authorized > 0 &&
    checks.reservedDelta === authorized &&
    checks.activeCallsDelta === authorized &&
    checks.balanceDelta === 0 &&
    allowed === authorized &&
    checks.badTwiml === 0 &&
    checks.errors === 0 &&
    checks.timeouts === 0 &&
    checks.non2xx === 0;
  log(`scale [${config}]: ${fmtInt(run.requests)} measured requests, ${fmtInt(authorized)} calls authorized in all, reserved +${checks.reservedDelta}: ${ok ? 'ok' : 'FAILED'}`);
  return {
    config,
    gateways: gws.length,
    redis: t.name,
    rps: Math.round(run.rps),
    p50: r2(hist.pct(50)),
    p99: r2(hist.pct(99)),
    requests: run.requests,
    durationS: run.durationS,
    cpu: cpuBetween(a, b),
    checks,
    firstBad: tally.firstBad,
    ok,
  };
}

/** 1 then 2 gateways on one topology; the topology and its gateways are stopped after. */
async function onTopology(start: () => Promise<Topology>): Promise<ScaleRow[]> {
  const t = await start();
  const gws: Child[] = [];
  try {
    gws.push(await startGateway(t, 1));
    // The topology's Redis is empty: its account, once, for every gateway on it.
    await createBenchAccount(gws[0]!.port);
    const one = await runConfig(t, gws);
    gws.push(await startGateway(t, 2));
    const two = await runConfig(t, gws);
    return [one, two];
  } finally {
    await Promise.all(gws.map(stopChild));
    await t.stop();
  }
}

export async function scalePhase(): Promise<ScaleRow[]> {
  return [...(await onTopology(standalone)), ...(await onTopology(cluster))];
}
