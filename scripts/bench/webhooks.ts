/**
 * Webhook benchmark of the COMPILED gateway against the bare ceiling (PERF.md).
 *
 *   npm run bench:webhooks [-- --duration 10] [--warmup 2] [--connections 50] [--build]
 *
 * Builds dist/ when it is older than src/ (or always with --build), then starts
 * `node dist/main.js` (NODE_ENV=production, LOG_LEVEL=warn) and
 * `node scripts/bench/bare-ceiling.mjs` as child processes with a Redis prefix of their
 * own; the load generator (autocannon, programmatic) runs in this process. Phases, each a
 * warm-up then a measured run with the same number of connections:
 *
 *   voice   signed POST /twilio/voice from a softphone (From=client:…, To=+1415…), a unique
 *           CallSid per request; every answer must be a <Dial>.
 *   status  signed POST /twilio/status <Dial action> (DialCallStatus=completed,
 *           DialCallDuration=95 → 2 minutes) for the calls authorized by voice, oldest
 *           first, each exactly once. Calls left over after the measured run are completed
 *           (unmeasured) before the balance is checked: reserved must be 0 and the debit
 *           2 minutes per authorized call; /metrics must agree.
 *   bare    the same voice bodies against the bare ceiling.
 *
 * Prints a table (req/s, p50, p99, errors) and the ratios voice/bare and status/bare
 * against the targets (≥ 0.8 of bare, p99 ≤ 10 ms), then one JSON line (for
 * BENCHMARKS.md). Progress goes to stderr, results to stdout. Exit code 1 when a
 * correctness check fails (errors, non-2xx, wrong TwiML, balance); missed performance
 * targets do not fail the run. Child processes are stopped and the bench's Redis keys
 * deleted (SCAN + UNLINK) on every exit path, Ctrl-C included.
 */
import autocannon from 'autocannon';
import { join } from 'node:path';
import { createHistogram } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { computeTwilioSignature } from '../../src/twilio/signature.js';
import {
  PUBLIC_BASE_URL,
  REDIS_URL,
  ROOT,
  adminApi,
  benchEnv,
  children,
  cpuSample,
  cpuShare,
  createLog,
  fmtInt,
  formatTable,
  gatewayEnv,
  hex,
  installCleanup,
  parseArgsOrExit,
  pctCell,
  pool,
  prepareBench,
  r2,
  reportHeader,
  runBench,
  runIdentity,
  scrapeMetrics,
  sleep,
  softphoneCallParams,
  startServer,
  stopChild,
  wholeNumber,
  type CpuShare as LoadgenCpuShare,
} from './common.js';

// ---------------------------------------------------------------- options

const USAGE = `usage: npm run bench:webhooks -- [--duration S] [--warmup S] [--connections N] [--build]
  --duration S     measured seconds per phase (default 10)
  --warmup S       warm-up seconds per phase, not measured (default 2)
  --connections N  concurrent connections (default 50)
  --build          rebuild dist/ even when it looks up to date`;

function parseOptions() {
  const values = parseArgsOrExit(USAGE, {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
    build: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  const int = (name: string, raw: string, min: number, max: number) => wholeNumber(USAGE, name, raw, min, max);
  return {
    duration: int('duration', values.duration, 1, 3600),
    warmup: int('warmup', values.warmup, 1, 600),
    connections: int('connections', values.connections, 1, 1000),
    build: values.build,
  };
}

const opts = parseOptions();

// ---------------------------------------------------------------- run identity

const ID = runIdentity('mgbench');
const { run: RUN, prefix: PREFIX, authToken: AUTH_TOKEN } = ID;
const VOICE_URL = `${PUBLIC_BASE_URL}/twilio/voice`;
const STATUS_URL = `${PUBLIC_BASE_URL}/twilio/status`;

const ACCOUNT_ID = `bench${RUN}`;
const STAFF_ID = 'alice';
const IDENTITY = `bench_${RUN}_alice`;
const NUMBER = `+1628555${String(Math.floor(Math.random() * 1e4)).padStart(4, '0')}`;
/** The API caps monthlyMinutes at 10,000,000 (account-routes.ts), ~100× what a run uses. */
const MONTHLY_MINUTES = 10_000_000;
const DIAL_SECONDS = 95;
const MINUTES_PER_CALL = 2; // 95 s → 2 minutes under the default billing rules (R4)

const SID_BASE = hex(8); // 16 hex digits + a 16-digit counter = a 32-hex-digit CallSid
const DIAL_SID_BASE = hex(8);
let sidCounter = 0;
let dialSidCounter = 0;
const nextCallSid = () => `CA${SID_BASE}${(++sidCounter).toString(16).padStart(16, '0')}`;
const nextDialSid = () => `CA${DIAL_SID_BASE}${(++dialSidCounter).toString(16).padStart(16, '0')}`;

const log = createLog('bench');
const api = adminApi(ID.adminKey);
/** Set in main(); cleanup also runs when main() failed before connecting. */
let redis: Redis | null = null;

// ---------------------------------------------------------------- Twilio bodies

interface SignedBody {
  sid: string;
  body: string;
  signature: string;
}

function encodeForm(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

/** Voice URL request of a Voice SDK softphone through the TwiML App: Twilio's own
 *  parameters plus the custom ones the softphone passes to device.connect(). 17 params. */
function voiceBody(): SignedBody {
  const sid = nextCallSid();
  const params: Record<string, string> = {
    ...softphoneCallParams(ID, sid, 'ringing', IDENTITY),
    CallerId: NUMBER,
    Direction: 'inbound',
    From: `client:${IDENTITY}`,
    To: `+1415${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`,
    SdkVersion: '2.12.3',
    Platform: 'browser',
    DeviceId: 'dev_7f3c2a9e41b8',
    CustomerRef: 'CRM-0042-1187',
    TicketId: 'T-58213',
    RecordingConsent: 'granted',
  };
  return { sid, body: encodeForm(params), signature: computeTwilioSignature(AUTH_TOKEN, VOICE_URL, params) };
}

/** The <Dial action> request of an answered call that talked 95 s. 14 params. */
function dialActionBody(sid: string): SignedBody {
  const params: Record<string, string> = {
    ...softphoneCallParams(ID, sid, 'in-progress', IDENTITY),
    Direction: 'inbound',
    From: `client:${IDENTITY}`,
    To: '+14155550100',
    DialCallStatus: 'completed',
    DialCallSid: nextDialSid(),
    DialCallDuration: String(DIAL_SECONDS),
    DialBridged: 'true',
  };
  return { sid, body: encodeForm(params), signature: computeTwilioSignature(AUTH_TOKEN, STATUS_URL, params) };
}

/**
 * Signs request bodies ahead of a measured run, so the load generator spends the run
 * sending rather than HMAC-ing (it shares the 2 cores with the server it measures); it
 * falls back to signing on the fly should a run outlast the pool.
 */
function pooled(gen: () => SignedBody, n: number): () => SignedBody {
  const pool = Array.from({ length: n }, gen);
  let i = 0;
  return () => (i < pool.length ? pool[i++]! : gen());
}

/** Per second of run, more than either server answers on this machine. */
const POOL_PER_SECOND = 16_000;

// ---------------------------------------------------------------- CPU shares

/** This bench has no helper processes: the load generator is this process alone. */
interface CpuShare {
  gen: number;
  server: number | null;
  redis: number | null;
  other: number | null;
}

const genShare = (s: LoadgenCpuShare): CpuShare => ({ gen: s.loadgen, server: s.server, redis: s.redis, other: s.other });

// ---------------------------------------------------------------- load phases

interface PhaseSpec {
  label: string;
  port: number;
  /** The server's pid, for the CPU shares. */
  pid?: number;
  path: string;
  connections: number;
  duration?: number;
  amount?: number;
  /** Next signed request, or null when there is nothing left to send (see `filler`). */
  next(): SignedBody | null;
  /** Sent instead when next() has nothing (the run is then stopped at once). */
  filler?: () => SignedBody;
  onReply(sid: string, status: number, body: string): void;
}

interface PhaseResult {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  requests: number;
  ok2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationS: number;
  /** Requests built (and maybe sent) whose response never came: the outcome is unknown. */
  unanswered: string[];
  exhausted: boolean;
  cpu: CpuShare;
}

let currentInstance: autocannon.Instance | null = null;

async function runPhase(spec: PhaseSpec): Promise<PhaseResult> {
  const cpuBefore = await cpuSample(redis, spec.pid);
  const run = await runLoad(spec);
  return { ...run, cpu: genShare(cpuShare(cpuBefore, await cpuSample(redis, spec.pid))) };
}

function runLoad(spec: PhaseSpec): Promise<Omit<PhaseResult, 'cpu'>> {
  const inflight = new Set<string>();
  const hist = createHistogram();
  let exhausted = false;
  return new Promise((resolvePhase, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${spec.port}`,
        connections: spec.connections,
        ...(spec.amount !== undefined ? { amount: spec.amount } : { duration: spec.duration }),
        timeout: 10,
        requests: [
          {
            method: 'POST',
            path: spec.path,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            setupRequest(req, context) {
              let signed = spec.next();
              if (!signed) {
                if (!exhausted) {
                  exhausted = true;
                  setImmediate(() => instance.stop());
                }
                signed = spec.filler!();
              }
              (context as { sid?: string }).sid = signed.sid;
              inflight.add(signed.sid);
              req.body = signed.body;
              req.headers = { ...req.headers, 'x-twilio-signature': signed.signature };
              return req;
            },
            onResponse(status, body, context) {
              const sid = (context as { sid?: string }).sid;
              if (sid === undefined) return;
              inflight.delete(sid);
              spec.onReply(sid, status, body);
            },
          },
        ],
      },
      (err, result) => {
        currentInstance = null;
        if (err) return reject(err);
        resolvePhase({
          rps: result.requests.average,
          p50: hist.percentile(50) / 1000,
          p90: hist.percentile(90) / 1000,
          p99: hist.percentile(99) / 1000,
          max: hist.max / 1000,
          requests: result.requests.total,
          ok2xx: result['2xx'],
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          durationS: result.duration,
          unanswered: [...inflight],
          exhausted,
        });
      },
    );
    currentInstance = instance;
    // µs resolution (autocannon's own histogram keeps whole milliseconds).
    instance.on('response', (_client, _status, _bytes, ms) => hist.record(Math.max(1, Math.round(ms * 1000))));
  });
}

// ---------------------------------------------------------------- gateway API

/** The state of each call as the gateway has it: 'active', 'ended' or 'none' (unknown or denied). */
async function callStates(port: number, sids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await pool(sids, 16, async (sid) => {
    const r = await api(port, 'GET', `/v1/accounts/${ACCOUNT_ID}/calls/${sid}`);
    if (r.status === 200) out.set(sid, String(r.json.state));
    else if (r.status === 404) out.set(sid, 'none');
    else throw new Error(`GET call ${sid}: ${r.status} ${JSON.stringify(r.json)}`);
  });
  return out;
}

// ---------------------------------------------------------------- cleanup

const cleanup = installCleanup({ log, prefix: PREFIX, redis: () => redis, stopLoad: () => currentInstance?.stop() });

// ---------------------------------------------------------------- report

/** A printed (and JSON) row: a phase's figures, rounded, with its count of wrong answers. */
type Row = Pick<PhaseResult, 'rps' | 'p50' | 'p90' | 'p99' | 'max' | 'requests' | 'errors' | 'timeouts' | 'non2xx' | 'durationS' | 'cpu'> & {
  phase: string;
  badBody: number;
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
  };
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const { start, redisVersion } = await prepareBench(opts.build, log, (r) => (redis = r));

  const C = opts.connections;
  const gw = await startServer({ name: 'gateway', script: join(ROOT, 'dist', 'main.js'), env: gatewayEnv(ID), readyPath: '/readyz', log });
  const bare = await startServer({
    name: 'bare ceiling',
    script: join(ROOT, 'scripts', 'bench', 'bare-ceiling.mjs'),
    env: { REDIS_URL, REDIS_PREFIX: PREFIX, TWILIO_AUTH_TOKEN: AUTH_TOKEN, PUBLIC_BASE_URL },
    readyPath: '/healthz',
    log,
  });

  const created = await api(gw.port, 'POST', '/v1/accounts', {
    id: ACCOUNT_ID,
    name: 'Webhook bench',
    monthlyMinutes: MONTHLY_MINUTES,
    staff: [{ id: STAFF_ID, email: `alice@${ACCOUNT_ID}.example`, identity: IDENTITY }],
    phoneNumbers: [NUMBER],
  });
  if (created.status !== 201) throw new Error(`account creation failed: ${created.status} ${JSON.stringify(created.json)}`);
  const before = await api(gw.port, 'GET', `/v1/accounts/${ACCOUNT_ID}/balance`);
  const initialBalance = Number(before.json.balance);
  const initialUsed = Number(before.json.usedThisCycle);
  log(`account ${ACCOUNT_ID}: balance ${fmtInt(initialBalance)} minutes, softphone client:${IDENTITY}`);

  // ---- voice: authorizations
  const authorized: string[] = [];
  const voiceUnanswered = new Set<string>();
  const bad = { voice: 0, status: 0, bare: 0, voiceTopUp: 0, drain: 0 };
  const samples: Record<string, string> = {};
  const voiceSpec = (label: keyof typeof bad, counted: boolean, next: () => SignedBody = voiceBody): Omit<PhaseSpec, 'duration' | 'amount'> => ({
    label,
    port: gw.port,
    pid: gw.proc.pid,
    path: '/twilio/voice',
    connections: C,
    next,
    onReply(sid, status, body) {
      if (status === 200 && body.includes('<Dial')) {
        authorized.push(sid);
        return;
      }
      if (status < 200 || status > 299) {
        voiceUnanswered.add(sid); // a 5xx may still have reserved: ask the gateway later
      } else if (counted) bad[label]++;
      samples[label] ??= `${status} ${body.slice(0, 200)}`;
    },
  });

  log(`voice: warm-up ${opts.warmup} s`);
  const voiceWarm = await runPhase({ ...voiceSpec('voice', false), duration: opts.warmup });
  voiceWarm.unanswered.forEach((s) => voiceUnanswered.add(s));
  log(`voice: measuring ${opts.duration} s`);
  const voice = await runPhase({ ...voiceSpec('voice', true, pooled(voiceBody, POOL_PER_SECOND * opts.duration)), duration: opts.duration });
  voice.unanswered.forEach((s) => voiceUnanswered.add(s));

  // Requests cut off at the end of a run may still have been authorized: ask.
  const resolveVoice = async () => {
    await sleep(300);
    const sids = [...voiceUnanswered];
    voiceUnanswered.clear();
    let added = 0;
    for (const [sid, state] of await callStates(gw.port, sids)) {
      if (state === 'active') {
        authorized.push(sid);
        added++;
      }
    }
    return { asked: sids.length, added };
  };
  const v1 = await resolveVoice();
  log(`voice: ${fmtInt(authorized.length)} calls authorized (${v1.asked} cut-off requests checked, ${v1.added} of them authorized)`);

  // ---- status: completions, each call exactly once, oldest first
  let head = 0;
  let fillerSeq = 0;
  const completedMeasured = { count: 0 };
  let completedTotal = 0;
  const statusUnanswered = new Set<string>();
  const statusSpec = (label: keyof typeof bad, take: () => string | undefined, counter?: { count: number }) => ({
    label,
    port: gw.port,
    pid: gw.proc.pid,
    path: '/twilio/status',
    connections: C,
    next: (): SignedBody | null => {
      const sid = take();
      if (sid === undefined) return null;
      const ready = presigned.get(sid);
      presigned.delete(sid);
      return ready ?? dialActionBody(sid);
    },
    // Only if the queue runs dry mid-run (the run is then stopped): a call the gateway
    // does not know, answered 200 as unknown_call and not counted as a completion.
    filler: () => dialActionBody(`CA${'f'.repeat(16)}${(++fillerSeq).toString(16).padStart(16, '0')}`),
    onReply(sid: string, status: number, body: string) {
      if (sid.startsWith('CAffffffffffffffff')) return;
      if (status === 200 && body.includes('<Response')) {
        completedTotal++;
        if (counter) counter.count++;
        return;
      }
      statusUnanswered.add(sid);
      if (status >= 200 && status <= 299) bad[label]++;
      samples[label] ??= `${status} ${body.slice(0, 200)}`;
    },
  });
  const takeQueued = () => (head < authorized.length ? authorized[head++] : undefined);
  // Completions are signed before the measured run (see pooled()).
  const presigned = new Map<string, SignedBody>();
  const presign = (n: number) => {
    for (let k = head; k < Math.min(authorized.length, head + n); k++) {
      const sid = authorized[k]!;
      if (!presigned.has(sid)) presigned.set(sid, dialActionBody(sid));
    }
  };

  log(`status: warm-up ${opts.warmup} s`);
  const statusWarm = await runPhase({ ...statusSpec('status', takeQueued), duration: opts.warmup });
  statusWarm.unanswered.forEach((s) => statusUnanswered.add(s));
  if (statusWarm.exhausted) {
    log(`status: the warm-up used up the ${fmtInt(head)} authorized calls after ~${statusWarm.durationS} s (harmless: the rest are topped up)`);
  }

  // Enough authorized calls for the measured run? Top up (unmeasured) if not, with a wide
  // margin: the rate swings on a shared machine. Should the queue still run dry, the run
  // is stopped, topped up again and measured once more.
  let toppedUp = 0;
  const topUp = async (need: number) => {
    const left = authorized.length - head;
    if (left >= need) return;
    const amount = Math.max(C, need - left);
    log(`status: ${fmtInt(left)} calls left, ~${fmtInt(need)} needed: authorizing ${fmtInt(amount)} more (not measured)`);
    const before = authorized.length;
    const run = await runPhase({ ...voiceSpec('voiceTopUp', true), amount });
    run.unanswered.forEach((s) => voiceUnanswered.add(s));
    await resolveVoice();
    toppedUp += authorized.length - before;
  };
  let rate = statusWarm.ok2xx / Math.max(0.5, statusWarm.durationS);
  let status!: PhaseResult;
  let exhaustedRuns = 0;
  for (let attempt = 1; attempt <= 2; attempt++) {
    await topUp(Math.ceil(rate * opts.duration * (attempt === 1 ? 2 : 3)) + 2 * C);
    log(`status: measuring ${opts.duration} s`);
    bad.status = 0; // count wrong answers of the measured run only (earlier ones are still checked)
    completedMeasured.count = 0;
    presign(POOL_PER_SECOND * opts.duration);
    status = await runPhase({ ...statusSpec('status', takeQueued, completedMeasured), duration: opts.duration });
    status.unanswered.forEach((s) => statusUnanswered.add(s));
    if (!status.exhausted) break;
    exhaustedRuns++;
    rate = Math.max(rate, status.ok2xx / Math.max(0.5, status.durationS));
    log(`status: the authorized calls ran out after ${status.durationS} s${attempt === 1 ? '; measuring again' : ''}`);
  }

  // Complete everything still open (unmeasured), asking about cut-off requests first so
  // no call gets a second completion.
  let drained = 0;
  for (let round = 0; round < 4; round++) {
    await sleep(300);
    const uncertain = [...statusUnanswered];
    statusUnanswered.clear();
    const open: string[] = authorized.slice(head);
    head = authorized.length;
    for (const [sid, state] of await callStates(gw.port, uncertain)) {
      if (state === 'active') open.push(sid);
      else if (state === 'ended') completedTotal++;
    }
    if (open.length === 0) break;
    if (round === 3) throw new Error(`${open.length} calls could not be completed`);
    log(`status: completing the ${fmtInt(open.length)} calls still open (not measured)`);
    let i = 0;
    const drain = await runPhase({
      ...statusSpec('drain', () => (i < open.length ? open[i++] : undefined)),
      connections: Math.min(C, open.length),
      amount: open.length,
    });
    drain.unanswered.forEach((s) => statusUnanswered.add(s));
    drained += open.length;
  }

  // ---- checks on the gateway's own books
  await sleep(200);
  const after = (await api(gw.port, 'GET', `/v1/accounts/${ACCOUNT_ID}/balance`)).json;
  const metrics = await scrapeMetrics(gw.port);
  const metric = (name: string) => metrics.get(name) ?? 0;
  const calls = authorized.length;
  const expectedDebit = calls * MINUTES_PER_CALL;
  const debit = initialBalance - Number(after.balance);
  const checks = {
    callsAuthorized: calls,
    callsCompleted: completedTotal,
    completedInMeasuredRun: completedMeasured.count,
    completedUnmeasured: drained,
    toppedUp,
    reserved: Number(after.reserved),
    activeCalls: Number(after.activeCalls),
    expectedDebit,
    debit,
    usedThisCycle: Number(after.usedThisCycle) - initialUsed,
    metricsAllowed: metric('minutegate_call_authorizations_total{decision="allowed"}'),
    metricsFinalized: metric('minutegate_call_signals_total{outcome="finalized"}'),
    metricsDuplicate: metric('minutegate_call_signals_total{outcome="duplicate"}'),
    metricsUnknownCall: metric('minutegate_call_signals_total{outcome="unknown_call"}'),
    fillers: fillerSeq,
    statusRunsCutShort: exhaustedRuns,
    gatewayWarnLogLines: gw.warnLines,
  };
  const balanceOk =
    checks.reserved === 0 &&
    checks.activeCalls === 0 &&
    debit === expectedDebit &&
    checks.usedThisCycle === expectedDebit &&
    completedTotal === calls;
  const metricsOk =
    checks.metricsAllowed === calls &&
    checks.metricsFinalized === calls &&
    checks.metricsDuplicate === 0 &&
    checks.metricsUnknownCall === fillerSeq;

  // ---- bare ceiling, same voice bodies
  const bareSpec = {
    label: 'bare',
    port: bare.port,
    pid: bare.proc.pid,
    path: '/twilio/voice',
    connections: C,
    next: voiceBody,
    onReply(_sid: string, status: number, body: string) {
      if (status === 200 && !body.includes('<Dial')) {
        bad.bare++;
        samples.bare ??= `${status} ${body.slice(0, 200)}`;
      }
    },
  };
  log(`bare: warm-up ${opts.warmup} s`);
  await runPhase({ ...bareSpec, duration: opts.warmup });
  log(`bare: measuring ${opts.duration} s`);
  const bareRun = await runPhase({ ...bareSpec, next: pooled(voiceBody, POOL_PER_SECOND * opts.duration), duration: opts.duration });

  await Promise.all(children.map(stopChild));

  // ---- report
  const rows = [row('voice', voice, bad.voice), row('status', status, bad.status), row('bare', bareRun, bad.bare)];
  const ratio = (a: number, b: number) => (b > 0 ? r2(a / b) : 0);
  const ratios = { voiceBare: ratio(voice.rps, bareRun.rps), statusBare: ratio(status.rps, bareRun.rps) };
  const targets = {
    minRatio: 0.8,
    maxP99Ms: 10,
    voiceRatioMet: ratios.voiceBare >= 0.8,
    statusRatioMet: ratios.statusBare >= 0.8,
    voiceP99Met: voice.p99 <= 10,
    statusP99Met: status.p99 <= 10,
  };
  const cleanRuns = rows.every((r) => r.errors === 0 && r.timeouts === 0 && r.non2xx === 0 && r.badBody === 0);
  const ok = cleanRuns && balanceOk && metricsOk && !status.exhausted;

  const env = benchEnv(start, redisVersion);

  const out = reportHeader(
    'webhook bench',
    env,
    `${C} connections, warm-up ${opts.warmup} s + measured ${opts.duration} s per phase; ` +
      'gateway = node dist/main.js (NODE_ENV=production, LOG_LEVEL=warn); bare = node scripts/bench/bare-ceiling.mjs',
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
  out.push(`voice/bare   ${ratios.voiceBare.toFixed(2)}   (target ≥ 0.80: ${mark(targets.voiceRatioMet)})`);
  out.push(`status/bare  ${ratios.statusBare.toFixed(2)}   (target ≥ 0.80: ${mark(targets.statusRatioMet)})`);
  out.push(
    `p99 ≤ 10 ms  voice ${voice.p99.toFixed(2)} ms: ${mark(targets.voiceP99Met)}; status ${status.p99.toFixed(2)} ms: ${mark(targets.statusP99Met)}`,
  );
  out.push('');
  out.push(
    `calls: ${fmtInt(calls)} authorized${toppedUp ? ` (${fmtInt(toppedUp)} of them by an unmeasured top-up)` : ''}, ` +
      `${fmtInt(completedTotal)} completed once each (${fmtInt(completedMeasured.count)} in the measured status run, ${fmtInt(drained)} afterwards)`,
  );
  out.push(
    `balance: reserved ${checks.reserved} (${mark(checks.reserved === 0)}), active calls ${checks.activeCalls} (${mark(checks.activeCalls === 0)}), ` +
      `debit ${fmtInt(debit)} vs ${MINUTES_PER_CALL} × ${fmtInt(calls)} = ${fmtInt(expectedDebit)} (${mark(debit === expectedDebit)}), ` +
      `used this cycle ${fmtInt(checks.usedThisCycle)} (${mark(checks.usedThisCycle === expectedDebit)})`,
  );
  out.push(
    `metrics: allowed ${fmtInt(checks.metricsAllowed)}, finalized ${fmtInt(checks.metricsFinalized)}, duplicate ${checks.metricsDuplicate}, ` +
      `unknown_call ${checks.metricsUnknownCall} (${mark(metricsOk)}); gateway warn/error log lines: ${gw.warnLines}`,
  );
  for (const [label, sample] of Object.entries(samples)) out.push(`first unexpected ${label} answer: ${sample}`);
  if (status.exhausted) out.push('WARNING: the status run ran out of authorized calls and stopped early');
  out.push(`result: ${ok ? 'all correctness checks passed' : 'CORRECTNESS CHECKS FAILED'} (shared machine: compare ratios, not absolutes)`);
  process.stdout.write(`${out.join('\n')}\n`);

  const json = {
    bench: 'webhooks',
    ...env,
    connections: C,
    warmupS: opts.warmup,
    durationS: opts.duration,
    results: Object.fromEntries(rows.map((r) => [r.phase, { ...r, phase: undefined }])),
    ratios,
    targets,
    checks: { ...checks, balanceOk, metricsOk, ok },
  };
  process.stdout.write(`${JSON.stringify(json)}\n`);
  return ok ? 0 : 1;
}

await runBench('bench', main, cleanup);
