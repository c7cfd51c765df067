/**
 * WebSocket benchmark of the COMPILED gateway: socket authorizations, balance fan-out to
 * 10,000 dashboards, and Media Streams ingestion.
 *
 *   npm run bench:ws [-- --duration 10] [--warmup 2] [--only auth|fanout|media] [--build]
 *
 * The phases live in auth.ts (with auth-load.ts and auth-ceiling.ts), fanout.ts (with fanout-procs.ts and the client processes of
 * fanout-clients.mjs) and media.ts; gateway.ts starts a gateway and opens sockets;
 * context.ts holds the flags, the run's identity and the report's rows.
 *
 * Builds dist/ when it is older than src/ (or always with --build). Each phase starts its
 * own `node dist/main.js` (NODE_ENV=production, LOG_LEVEL=warn, a Redis prefix of the
 * run's own; WS_MAX_MESSAGES_PER_SECOND=100000 so the per-socket rate limit — 50/s by
 * default — never throttles the load; AUTHORIZATION_TTL_SECONDS=60, the default), so RSS
 * and CPU figures of one phase are not coloured by the one before. Children are started
 * through `sh -c 'ulimit -n <hard limit>; exec node …'` so 10,000 sockets fit.
 *
 *   auth    --sockets (200) staff sockets over --staff (10) staff members of one account
 *           (--auth-accounts to spread them), each keeping --inflight (1) authorize
 *           requests in flight (closed loop; --auth-rate R paces them to R/s in total
 *           instead). Measures replies/s and latency (send → reply) over the measured
 *           window; every reply must be `authorized`. The pool holds 10,000,000 minutes
 *           (the API maximum) and each authorization reserves 1 minute for 60 s, so at most
 *           rate × 60 s minutes are ever reserved (1.5 M at 25k/s): the pool cannot run
 *           out, whatever --duration. Afterwards `reserved` must equal the authorizations
 *           granted (when the phase was shorter than the TTL). Also counts the balance
 *           frames the sockets got meanwhile: every authorization changes `reserved`, and
 *           softphone sockets watch their account. Then the same load (sockets, in-flight
 *           bound, warm-up and window) against the bare ceiling, ceiling-server.mjs in its
 *           own process (ws + JSON.parse + one EVALSHA + send), and the ratio (target ≥ 0.8).
 *   fanout  --dashboards (10,000) sockets with one staff token, opened in batches by
 *           --fanout-procs (2) client processes (scripts/bench/ws/fanout-clients.mjs) so
 *           that receiving does not share an event loop with the measurement. Gateway RSS
 *           (VmRSS) before and after they connect (lowest of 6 samples over 3 s idle) → MB per
           1,000 idle sockets. Then one
 *           admin adjustment (+1 minute) every 100 ms; delivery latency = each socket's
 *           receipt of that balance − the adjustment's send time (also − its 201), on the
 *           machine-wide monotonic clock. The gateway's longest event-loop stall is seen
 *           from outside: one admin socket (it watches nothing) sends {"type":"ping"} every
 *           5 ms and records pong round trips, idle first and then during the broadcasts.
 *           Then the same sockets, clients, adjustments and probe against a bare ws server
 *           that writes every change to every socket at once (fanout-bare-server.mjs), and
 *           the gateway's delivery p99 ÷ its.
 *   media   --streams (500) Media Streams sockets, each signed like Twilio (X-Twilio-Signature
 *           over wss://<PUBLIC_BASE_URL host>/twilio/media/<the call's token>, no params), for calls first
 *           placed through signed POST /twilio/voice (real, known CallSids): `connected`,
 *           `start`, then 50 media frames/s each (160-byte µ-law payload, Twilio's exact
 *           JSON shape), then `stop`. Server CPU from /proc/<pid>/stat over the measured
 *           window; the gateway's /metrics media-frame count must equal the frames sent.
 *           Then the same frames at the same rate against a bare ws server with the gateway's
 *           socket options (media-bare-server.mjs), in its own process: its CPU, and the ratio.
 *
 * Client sockets use an all-zero WebSocket mask (ws `generateMask`), which spares the load
 * generator the masking work; the server unmasks every frame all the same.
 *
 * Prints a table (figure, target, ok/MISSED) and CPU shares per phase, then one JSON line.
 * Progress goes to stderr, results to stdout. Exit code 1 when a correctness check fails;
 * missed performance targets do not fail the run. Children are stopped and the bench's
 * Redis keys deleted (SCAN + UNLINK under its own prefix) on every exit path.
 */
import { fileLimits } from '../lib/processes.js';
import { benchEnv, formatTable, pctCell, reportHeader } from '../lib/report.js';
import { installCleanup, prepareBench, runBench } from '../lib/run.js';
import { authPhase } from './auth.js';
import { AUTHORIZATION_TTL_SECONDS, ID, WS_MAX_MESSAGES_PER_SECOND, cpuRows, failures, log, notes, opts, rows, shared } from './context.js';
import { fanoutPhase } from './fanout.js';
import { mediaPhase } from './media.js';
import { openSockets } from './gateway.js';

const cleanup = installCleanup({
  log,
  prefix: ID.prefix,
  database: ID.database,
  redis: () => shared.redis,
  stopLoad: () => {
    for (const ws of openSockets) ws.terminate();
  },
});

async function main(): Promise<number> {
  const { start, redisVersion } = await prepareBench(opts.build, log, (r) => (shared.redis = r), ID.database);
  const limits = fileLimits();

  const results: Record<string, unknown> = {};
  for (const phase of opts.phases) {
    log(`---- ${phase}`);
    if (phase === 'auth') results.auth = await authPhase();
    else if (phase === 'fanout') results.fanout = await fanoutPhase();
    else results.media = await mediaPhase();
  }

  const env = { ...benchEnv(start, redisVersion), openFiles: { soft: limits.soft, hard: limits.hard } };
  const out = reportHeader(
    'WebSocket bench',
    env,
    `warm-up ${opts.warmup} s + measured ${opts.duration} s per phase; gateway = node dist/main.js (NODE_ENV=production, LOG_LEVEL=warn, ` +
      `WS_MAX_MESSAGES_PER_SECOND=${WS_MAX_MESSAGES_PER_SECOND}, AUTHORIZATION_TTL_SECONDS=${AUTHORIZATION_TTL_SECONDS}), a fresh one per phase`,
  );
  const head = ['phase', 'figure', 'value', 'target', ''];
  const table = rows.map((r) => [r.phase, r.what, r.value, r.target, r.met === null ? '' : r.met ? 'ok' : 'MISSED']);
  out.push(...formatTable(head, table, (i) => i === 2, true));
  out.push('');
  const cpuHead = ['phase', 'window', 'server%', 'redis%', 'loadgen%', 'max loadgen proc%', 'others%'];
  const cpuTable = cpuRows.map((c) => [
    c.phase,
    c.window,
    pctCell(c.cpu.server),
    pctCell(c.cpu.redis),
    pctCell(c.cpu.loadgen),
    pctCell(c.cpu.loadgenMaxProc),
    pctCell(c.cpu.other),
  ]);
  out.push(...formatTable(cpuHead, cpuTable, (i) => i >= 2));
  out.push('(CPU in % of one core over the measured window; loadgen = this process + its client processes; others = the rest of the machine)');
  const saturated = cpuRows.filter((c) => (c.cpu.loadgenMaxProc ?? 0) >= 90).map((c) => c.phase);
  if (saturated.length > 0) {
    out.push(`WARNING: a load-generator process used ≥ 90% of a core in: ${saturated.join(', ')}; those figures are floors, not the gateway's capacity`);
  }
  out.push('');
  for (const n of notes) out.push(`NOTE: ${n}`);
  for (const f of failures) out.push(`FAILED: ${f}`);
  const ok = failures.length === 0;
  out.push(`result: ${ok ? 'all correctness checks passed' : 'CORRECTNESS CHECKS FAILED'} (shared machine: figures drift ±30%; compare side by side)`);
  process.stdout.write(`${out.join('\n')}\n`);

  const targets = Object.fromEntries(rows.filter((r) => r.met !== null).map((r) => [`${r.phase}: ${r.what}`, r.met]));
  process.stdout.write(
    `${JSON.stringify({
      bench: 'ws',
      ...env,
      warmupS: opts.warmup,
      durationS: opts.duration,
      phases: opts.phases,
      gatewayEnv: { WS_MAX_MESSAGES_PER_SECOND, AUTHORIZATION_TTL_SECONDS },
      results,
      targets,
      failures,
      notes,
      ok,
    })}\n`,
  );
  return ok ? 0 : 1;
}

await runBench('bench:ws', main, cleanup);
