// Phase `instructions` (--only instructions, run alone): the gateway's own instructions per
// webhook, counted by valgrind's callgrind, for trying a change to the gateway's
// JavaScript. Requests per second and CPU µs move ±30% with this machine; instruction
// counts under callgrind do not move with it, but the JIT's background compiles and the
// collector's helper threads are counted too, so repeat runs still differ by up to ~10%
// (BENCHMARKS.md, session 22): compare several runs, alternated.
// What the kernel does for the process (its system calls) is not counted: `--only quick`
// shows that side.
// Not a measure of the gateway against the bare route (session 23): these counts put the
// two level where the main thread's user time of a real run is 1.7–1.8 times the bare
// route's, and the bare route's count would need ~4 instructions per cycle to fit its time.
// What runs under valgrind (its emulated CPU, a JIT at a fiftieth of the speed) is not what
// runs for real; use `--only quick`'s per-thread split for that comparison.
//
// The gateway (ARCHIVER=off) runs under `valgrind --tool=callgrind --instr-atstart=no`,
// warms up uncounted (the JIT needs thousands of requests to settle), then each measured
// run is counted alone: `callgrind_control -i on`, the requests, a dump, `-i off`. The
// voice run authorizes the calls whose <Dial action> the status run then completes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayEnv } from '../lib/identity.js';
import { startServer, stopChild, type Child } from '../lib/processes.js';
import { PUBLIC_BASE_URL, REDIS_URL, ROOT, fmtInt } from '../lib/util.js';
import { dialActionBody } from './bodies.js';
import { ID, createBenchAccount, log, opts } from './context.js';
import { runLoad } from './load.js';
import { authorized, bad, dialActionPath, voiceSpec } from './voice.js';

export interface InstructionsResult {
  warmup: number;
  requests: number;
  connections: number;
  /** Thousand instructions per request, by run. */
  voiceKInstr: number;
  statusKInstr: number;
  /** The bare route's, on the same voice bodies. */
  bareKInstr: number;
  wrong: number;
}

/** Null when valgrind is not installed. */
export async function instructionsPhase(): Promise<InstructionsResult | null> {
  if (spawnSync('valgrind', ['--version'], { stdio: 'ignore' }).status !== 0) return null;
  const dir = mkdtempSync(join(tmpdir(), 'mg-callgrind-'));
  const C = opts.instrConnections;
  const W = opts.instrWarmup;
  const M = opts.instrRequests;
  try {
    const env: Record<string, string> = { ...gatewayEnv(ID), ARCHIVER: 'off' };
    const gw = await startServer({
      name: 'gateway under callgrind (ARCHIVER=off)',
      script: join(ROOT, 'dist', 'main.js'),
      env,
      readyPath: '/readyz',
      log,
      wrap: ['valgrind', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${join(dir, 'cg.%p')}`],
      readyWithinMs: 180_000,
    });
    await createBenchAccount(gw.port);
    const count = (what: string, amount: number, counted: boolean, spec: ReturnType<typeof voiceSpec>) => {
      log(`instructions: ${what}: ${fmtInt(amount)} requests${counted ? ', counted' : ' (warm-up, not counted)'}`);
      return runLoad({ ...spec, connections: C, amount });
    };
    const voice = () => voiceSpec(gw, 'voice', true);
    let head = 0;
    const status = () => ({
      ...voiceSpec(gw, 'status', true),
      path: dialActionPath(),
      next: () => (head < authorized.length ? dialActionBody(authorized[head++]!, dialActionPath()) : null),
      onReply: (_sid: string, code: number, body: string) => {
        if (code !== 200 || !body.includes('<Response')) bad.status++;
      },
    });
    // Warm-up: voice and status alike, so both paths are compiled before either is counted.
    await count('voice', W, false, voice());
    await count('status', W, false, status());
    const voiceK = await measured(gw, env, dir, 'voice', M, () => count('voice', M, true, voice()));
    // The status run needs M authorized calls not yet completed: the voice runs made W + M.
    const statusK = await measured(gw, env, dir, 'status', M, () => count('status', M, true, status()));
    await stopChild(gw);
    // The bare route (bare-ceiling.mjs) on the same voice bodies, counted the same way.
    const bareEnv: Record<string, string> = { REDIS_URL, REDIS_PREFIX: ID.prefix, TWILIO_AUTH_TOKEN: ID.authToken, PUBLIC_BASE_URL };
    const bare = await startServer({
      name: 'bare ceiling under callgrind',
      script: join(ROOT, 'scripts', 'bench', 'webhooks', 'bare-ceiling.mjs'),
      env: bareEnv,
      readyPath: '/healthz',
      log,
      wrap: ['valgrind', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${join(dir, 'cg.%p')}`],
      readyWithinMs: 180_000,
    });
    const bareSpec = () => ({
      ...voiceSpec(bare, 'bare', true),
      onReply: (_sid: string, code: number, body: string) => {
        if (code !== 200 || !body.includes('<Dial')) bad.bare++;
      },
    });
    await count('bare', W, false, bareSpec());
    const bareK = await measured(bare, bareEnv, dir, 'bare', M, () => count('bare', M, true, bareSpec()));
    await stopChild(bare);
    return { warmup: W, requests: M, connections: C, voiceKInstr: voiceK, statusKInstr: statusK, bareKInstr: bareK, wrong: bad.voice + bad.status + bad.bare };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Counts one run alone: instrumentation on, the run, a dump of the counters, off. */
async function measured(gw: Child, env: Record<string, string>, dir: string, label: string, requests: number, run: () => Promise<{ requests: number; non2xx: number; errors: number }>): Promise<number> {
  const pid = String(gw.proc.pid);
  control(env, ['-i', 'on', pid]);
  const r = await run();
  control(env, ['-d', label, pid]);
  control(env, ['-i', 'off', pid]);
  if (r.requests < requests || r.non2xx || r.errors) throw new Error(`instructions: the ${label} run answered ${r.requests} of ${requests} (${r.non2xx} non-2xx, ${r.errors} errors)`);
  const dumps = readdirSync(dir).filter((f) => f.startsWith(`cg.${pid}.`)).sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]));
  const last = dumps[dumps.length - 1];
  if (!last) throw new Error(`instructions: callgrind wrote no dump for the ${label} run (${dir}: ${readdirSync(dir).join(', ')})`);
  const text = readFileSync(join(dir, last), 'utf8');
  // "totals", not "summary": after instrumentation was switched off and on, callgrind's
  // summary line can wrap around; the totals are the counted events themselves.
  const total = Number(/^totals: (\d+)/m.exec(text)?.[1]);
  if (!Number.isFinite(total) || total <= 0) throw new Error(`instructions: no instruction total in ${last}`);
  return Math.round(total / requests / 100) / 10;
}

/** callgrind_control reaches the process through vgdb's pipes in /tmp, named after the
 *  user and host as each side's environment has them (LOGNAME or USER, HOST): it is run
 *  with the gateway's, which has the gateway's HOST and no user. A command that found no
 *  process still exits 0, so its output is checked. */
function control(gatewayEnv: Record<string, string>, args: string[]): void {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
  for (const name of ['LOGNAME', 'USER', 'HOST']) if (gatewayEnv[name] !== undefined) env[name] = gatewayEnv[name]!;
  const r = spawnSync('callgrind_control', args, { encoding: 'utf8', env });
  if (r.status !== 0 || !/OK\./.test(r.stdout)) throw new Error(`callgrind_control ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim()}`);
}
