// Phase `ab` (--only ab, run alone): two builds of the gateway measured side by side, for
// trying a change on a machine whose speed drifts ±30% between runs (BENCHMARKS.md,
// session 23: the same code's voice webhook took 88–172 µs of main-thread time in
// back-to-back quick runs). Gateway A runs dist/main.js, gateway B the main.js of
// --ab-dist, both ARCHIVER=off on the run's account; they take turns at the voice load in
// slices of --ab-slice seconds, A B in even rounds and B A in odd ones, so a drift of the
// machine falls on both. Each slice gives CPU per request: the server's, its main thread's
// user time, Redis's and every process's; the report takes the median per build and the
// median of the paired B ÷ A ratios (each round's B against its own A).
// With --ab-bare, B is the bare ceiling (bare-ceiling.mjs) instead of a second gateway:
// issue #22's voice ÷ bare ratio, with the machine's drift falling on both alike.
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { gatewayEnv } from '../lib/identity.js';
import { startServer, stopChild, type Child } from '../lib/processes.js';
import { ROOT, fmtInt, median, r2 } from '../lib/util.js';
import { POOL_PER_SECOND, pooled, voiceBody } from './bodies.js';
import { ID, createBenchAccount, log, opts } from './context.js';
import { usPerRequest } from '../lib/cpu.js';
import { machinePct, runPhase, type PhaseResult } from './load.js';
import { bad, voiceSpec } from './voice.js';
import { bareSpec, startBare } from './bare.js';

export interface AbSlice {
  build: 'A' | 'B';
  rps: number;
  serverUs: number | null;
  mainUserUs: number | null;
  redisUs: number | null;
  allUs: number | null;
  failed: number;
}

export interface AbResult {
  /** The bare ceiling as B (--ab-bare), or the dist/ of build B. */
  bare: boolean;
  bDist: string;
  bNodeOptions: string;
  rounds: number;
  sliceS: number;
  slices: AbSlice[];
}

function slice(build: 'A' | 'B', r: PhaseResult): AbSlice {
  return {
    build,
    rps: r.rps,
    serverUs: usPerRequest(r.cpu.server, r.rps),
    mainUserUs: r.serverThreads?.mainUserUs ?? null,
    redisUs: usPerRequest(r.cpu.redis, r.rps),
    allUs: usPerRequest(machinePct(r.cpu), r.rps),
    failed: r.errors + r.timeouts + r.non2xx,
  };
}

export async function abPhase(): Promise<AbResult> {
  const bare = opts.abBare;
  const bDist = bare ? 'the bare ceiling' : resolve(opts.abDist!);
  if (!bare && !existsSync(join(bDist, 'main.js'))) throw new Error(`--ab-dist ${bDist}: no main.js there (build B with npm run build first)`);
  const env = { ...gatewayEnv(ID), ARCHIVER: 'off' };
  const gateways: Record<'A' | 'B', Child> = {
    A: await startServer({ name: 'gateway A', script: join(ROOT, 'dist', 'main.js'), env, readyPath: '/readyz', log }),
    B: bare
      ? await startBare()
      : await startServer({
          name: 'gateway B',
          script: join(bDist, 'main.js'),
          env: opts.abBNodeOptions ? { ...env, NODE_OPTIONS: opts.abBNodeOptions } : env,
          readyPath: '/readyz',
          log,
        }),
  };
  // The load of a slice: the gateway's voice spec, or the same bodies at the bare route.
  const spec = (build: 'A' | 'B', counted: boolean, next?: ReturnType<typeof pooled>) =>
    bare && build === 'B' ? bareSpec(gateways.B, next) : voiceSpec(gateways[build], 'voice', counted, next);
  await createBenchAccount(gateways.A.port);
  for (const build of ['A', 'B'] as const) {
    log(`ab: warm-up of ${build}, ${opts.warmup} s`);
    await runPhase({ ...spec(build, false), duration: opts.warmup });
  }
  const slices: AbSlice[] = [];
  for (let k = 0; k < opts.abRounds; k++) {
    for (const build of k % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
      const r = await runPhase({ ...spec(build, true, pooled(voiceBody, POOL_PER_SECOND * opts.abSlice)), duration: opts.abSlice });
      const s = slice(build, r);
      slices.push(s);
      log(`ab: round ${k + 1}, ${build}: ${fmtInt(s.rps)} req/s, server ${s.serverUs?.toFixed(1)} µs, main thread user ${s.mainUserUs} µs, Redis ${s.redisUs?.toFixed(1)} µs per request`);
    }
  }
  await Promise.all([stopChild(gateways.A), stopChild(gateways.B)]);
  return { bare, bDist, bNodeOptions: opts.abBNodeOptions, rounds: opts.abRounds, sliceS: opts.abSlice, slices };
}

export function printAbReport(r: AbResult, header: string[]): boolean {
  const figures = [
    ['req/s', (s: AbSlice) => s.rps],
    ['server µs/req', (s: AbSlice) => s.serverUs],
    ['main thread user µs/req', (s: AbSlice) => s.mainUserUs],
    ['Redis µs/req', (s: AbSlice) => s.redisUs],
    ['all processes µs/req', (s: AbSlice) => s.allUs],
  ] as const;
  const of = (build: 'A' | 'B') => r.slices.filter((s) => s.build === build);
  const out = [...header, `A = dist/, B = ${r.bDist}${r.bNodeOptions ? ` with NODE_OPTIONS=${r.bNodeOptions}` : ''}; ${r.rounds} rounds of one ${r.sliceS} s voice slice each, A B then B A`];
  out.push('figure                     median A  median B  B ÷ A per round: median (min–max)');
  for (const [name, get] of figures) {
    const a = of('A').map(get);
    const b = of('B').map(get);
    const ratios = a.flatMap((x, i) => (x !== null && b[i] !== null && b[i] !== undefined && x > 0 ? [b[i]! / x] : []));
    const ma = median(a.filter((x): x is number => x !== null));
    const mb = median(b.filter((x): x is number => x !== null));
    const mr = median(ratios);
    out.push(
      `${name.padEnd(26)} ${(ma === null ? '-' : ma.toFixed(1)).padStart(8)}  ${(mb === null ? '-' : mb.toFixed(1)).padStart(8)}  ` +
        (mr === null ? '-' : `${r2(mr)} (${r2(Math.min(...ratios))}–${r2(Math.max(...ratios))})`),
    );
  }
  if (r.bare) {
    // Issue #22's figure: the gateway's throughput over the bare route's, round by round.
    const ratios = of('A').flatMap((a, i) => {
      const b = of('B')[i];
      return b && b.rps > 0 ? [a.rps / b.rps] : [];
    });
    const m = median(ratios);
    if (m !== null) out.push(`voice ÷ bare (A ÷ B req/s, per round): median ${r2(m)} (${r2(Math.min(...ratios))}–${r2(Math.max(...ratios))}), target ≥ 0.8`);
  }
  const failed = r.slices.reduce((n, s) => n + s.failed, 0) + bad.voice + bad.bare;
  out.push(`result: ${failed === 0 ? 'every request answered with a <Dial>' : `${failed} requests failed or answered wrongly`}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return failed === 0;
}
