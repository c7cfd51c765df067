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
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createHistogram, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { computeTwilioSignature } from '../../src/twilio/signature.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

// ---------------------------------------------------------------- options

const USAGE = `usage: npm run bench:webhooks -- [--duration S] [--warmup S] [--connections N] [--build]
  --duration S     measured seconds per phase (default 10)
  --warmup S       warm-up seconds per phase, not measured (default 2)
  --connections N  concurrent connections (default 50)
  --build          rebuild dist/ even when it looks up to date`;

function parseOptions() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        duration: { type: 'string', default: '10' },
        warmup: { type: 'string', default: '2' },
        connections: { type: 'string', default: '50' },
        build: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const int = (name: string, raw: string, min: number, max: number) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      process.stderr.write(`--${name}: must be a whole number from ${min} to ${max}, got ${raw}\n${USAGE}\n`);
      process.exit(2);
    }
    return n;
  };
  return {
    duration: int('duration', values.duration, 1, 3600),
    warmup: int('warmup', values.warmup, 1, 600),
    connections: int('connections', values.connections, 1, 1000),
    build: values.build,
  };
}

const opts = parseOptions();

// ---------------------------------------------------------------- run identity

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const RUN = hex(4);
const PREFIX = `mgbench-${RUN}`;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const AUTH_TOKEN = `bench-auth-${hex(16)}`;
const ADMIN_KEY = `bench-admin-${hex(16)}`;
const STAFF_SECRET = `bench-staff-${hex(24)}`;
const PUBLIC_BASE_URL = 'https://gw.bench.minutegate.test';
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

const TW_ACCOUNT_SID = `AC${hex(16)}`;
const TW_APP_SID = `AP${hex(16)}`;
const SID_BASE = hex(8); // 16 hex digits + a 16-digit counter = a 32-hex-digit CallSid
const DIAL_SID_BASE = hex(8);
let sidCounter = 0;
let dialSidCounter = 0;
const nextCallSid = () => `CA${SID_BASE}${(++sidCounter).toString(16).padStart(16, '0')}`;
const nextDialSid = () => `CA${DIAL_SID_BASE}${(++dialSidCounter).toString(16).padStart(16, '0')}`;

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
    AccountSid: TW_ACCOUNT_SID,
    ApiVersion: '2010-04-01',
    ApplicationSid: TW_APP_SID,
    CallSid: sid,
    CallStatus: 'ringing',
    Called: '',
    Caller: `client:${IDENTITY}`,
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
    AccountSid: TW_ACCOUNT_SID,
    ApiVersion: '2010-04-01',
    ApplicationSid: TW_APP_SID,
    CallSid: sid,
    CallStatus: 'in-progress',
    Called: '',
    Caller: `client:${IDENTITY}`,
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

// ---------------------------------------------------------------- build

/** dist/ is stale when a compiled file is missing or older than its source. */
function distIsStale(): string | null {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
    );
  const src = join(ROOT, 'src');
  for (const file of walk(src)) {
    const rel = relative(src, file);
    let out: string;
    if (file.endsWith('.lua')) out = join(ROOT, 'dist', rel);
    else if (file.endsWith('.ts') && !file.endsWith('.test.ts') && !file.endsWith('.d.ts')) {
      out = join(ROOT, 'dist', rel.replace(/\.ts$/, '.js'));
    } else continue;
    let outTime: number;
    try {
      outTime = statSync(out).mtimeMs;
    } catch {
      return `${relative(ROOT, out)} is missing`;
    }
    if (statSync(file).mtimeMs > outTime) return `${relative(ROOT, file)} is newer than ${relative(ROOT, out)}`;
  }
  return null;
}

function ensureBuilt(force: boolean): void {
  const why = force ? '--build' : distIsStale();
  if (!why) {
    log('dist/ is up to date');
    return;
  }
  log(`building dist/ (${why})`);
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`npm run build failed (exit ${r.status ?? r.signal})`);
}

// ---------------------------------------------------------------- child processes

interface Child {
  name: string;
  proc: ChildProcess;
  port: number;
  tail: string[];
  warnLines: number;
  exited: Promise<void>;
  alive: boolean;
}

const children: Child[] = [];

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolvePort(port));
    });
  });
}

async function startChild(name: string, script: string, env: Record<string, string>, readyPath: string): Promise<Child> {
  const port = await freePort();
  // A clean environment: in particular no NODE_OPTIONS / loader flags from tsx, so the
  // child runs the compiled JS exactly as production does.
  const childEnv: Record<string, string> = { PATH: process.env.PATH ?? '', PORT: String(port), ...env };
  const proc = spawn(process.execPath, [script], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const child: Child = { name, proc, port, tail: [], warnLines: 0, exited: Promise.resolve(), alive: true };
  child.exited = new Promise((r) => proc.once('exit', () => { child.alive = false; r(); }));
  const onData = (buf: Buffer) => {
    for (const line of buf.toString('utf8').split('\n')) {
      if (!line) continue;
      if (/"level":"(warn|error)"/.test(line)) child.warnLines++;
      child.tail.push(line);
      if (child.tail.length > 40) child.tail.shift();
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  children.push(child);

  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (!child.alive) break;
    try {
      const res = await fetch(`http://127.0.0.1:${port}${readyPath}`);
      if (res.ok) {
        log(`${name} ready on port ${port} (pid ${proc.pid})`);
        return child;
      }
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${name} did not become ready${child.alive ? ' within 20 s' : ` (exit code ${proc.exitCode})`}:\n  ${child.tail.join('\n  ')}`);
}

async function stopChild(child: Child): Promise<void> {
  if (!child.alive) return;
  child.proc.kill('SIGTERM');
  const done = await Promise.race([child.exited.then(() => true), sleep(5_000).then(() => false)]);
  if (!done && child.alive) {
    child.proc.kill('SIGKILL');
    await child.exited;
  }
}

// ---------------------------------------------------------------- CPU accounting (Linux /proc)
// Where the cores went during a measured run, in % of one core: this process (the load
// generator), the server under test, Redis, and everything else on the machine (on a
// shared box: the other engineer's work). Without /proc the figures are null.

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

function procCpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

function machineBusyMs(): number | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
    return (busy * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

async function redisCpuMs(): Promise<number | null> {
  try {
    const info = await redis!.info('cpu');
    const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]);
    const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]);
    return Number.isFinite(sys + user) ? (sys + user) * 1000 : null;
  } catch {
    return null;
  }
}

interface CpuSample {
  wall: number;
  gen: number;
  server: number | null;
  redis: number | null;
  machine: number | null;
}

async function cpuSample(serverPid: number | undefined): Promise<CpuSample> {
  const u = process.cpuUsage();
  return {
    wall: performance.now(),
    gen: (u.user + u.system) / 1000,
    server: procCpuMs(serverPid),
    redis: await redisCpuMs(),
    machine: machineBusyMs(),
  };
}

interface CpuShare {
  gen: number;
  server: number | null;
  redis: number | null;
  other: number | null;
}

function cpuShare(a: CpuSample, b: CpuSample): CpuShare {
  const wall = b.wall - a.wall;
  const pct = (x: number | null, y: number | null) => (x === null || y === null ? null : Math.round(((y - x) / wall) * 100));
  const gen = pct(a.gen, b.gen)!;
  const server = pct(a.server, b.server);
  const redisPct = pct(a.redis, b.redis);
  const machine = pct(a.machine, b.machine);
  const other = machine === null ? null : Math.max(0, machine - gen - (server ?? 0) - (redisPct ?? 0));
  return { gen, server, redis: redisPct, other };
}

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
  const cpuBefore = await cpuSample(spec.pid);
  const run = await runLoad(spec);
  return { ...run, cpu: cpuShare(cpuBefore, await cpuSample(spec.pid)) };
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

async function api(port: number, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_KEY}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // keep the text
  }
  return { status: res.status, json };
}

/** The state of each call as the gateway has it: 'active', 'ended' or 'none' (unknown or denied). */
async function callStates(port: number, sids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let i = 0;
  const worker = async () => {
    while (i < sids.length) {
      const sid = sids[i++]!;
      const r = await api(port, 'GET', `/v1/accounts/${ACCOUNT_ID}/calls/${sid}`);
      if (r.status === 200) out.set(sid, String(r.json.state));
      else if (r.status === 404) out.set(sid, 'none');
      else throw new Error(`GET call ${sid}: ${r.status} ${JSON.stringify(r.json)}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, sids.length) }, worker));
  return out;
}

async function scrapeMetrics(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const m = /^(minutegate_[a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

// ---------------------------------------------------------------- Redis cleanup

let redis: Redis | null = null;

async function deleteBenchKeys(): Promise<number> {
  const client = redis ?? new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  if (client.status === 'wait') await client.connect();
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${PREFIX}:*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length > 0) deleted += await client.unlink(...keys);
  } while (cursor !== '0');
  if (client !== redis) client.disconnect();
  return deleted;
}

let cleanupPromise: Promise<void> | null = null;

function cleanup(): Promise<void> {
  cleanupPromise ??= (async () => {
    currentInstance?.stop();
    await Promise.all(children.map((c) => stopChild(c).catch(() => {})));
    try {
      const n = await deleteBenchKeys();
      log(`deleted ${n} Redis key(s) under ${PREFIX}:`);
    } catch (err) {
      log(`could not delete the keys under ${PREFIX}: (${(err as Error).message}); delete them by hand`);
    }
    redis?.disconnect();
  })();
  return cleanupPromise;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping`);
    void cleanup().finally(() => process.exit(130));
  });
}
// Last resort (e.g. process.exit elsewhere): never leave a server running.
process.on('exit', () => {
  for (const c of children) if (c.alive) c.proc.kill('SIGKILL');
});

// ---------------------------------------------------------------- report

interface Row {
  phase: string;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  requests: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  badBody: number;
  durationS: number;
  cpu: CpuShare;
}

const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;
const fmtInt = (x: number) => Math.round(x).toLocaleString('en-US');

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

function gitRevision(): string | null {
  const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (rev.status !== 0) return null;
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' });
  return rev.stdout.trim() + (dirty.stdout.trim() ? '+dirty-src' : '');
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const started = new Date();
  const loadBefore = os.loadavg().map(r2);
  ensureBuilt(opts.build);

  redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  await redis.connect();
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? '?';

  const C = opts.connections;
  const gw = await startChild(
    'gateway',
    join(ROOT, 'dist', 'main.js'),
    {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      REDIS_URL,
      REDIS_PREFIX: PREFIX,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      ADMIN_API_KEY: ADMIN_KEY,
      STAFF_TOKEN_SECRET: STAFF_SECRET,
      PUBLIC_BASE_URL,
    },
    '/readyz',
  );
  const bare = await startChild(
    'bare ceiling',
    join(ROOT, 'scripts', 'bench', 'bare-ceiling.mjs'),
    { REDIS_URL, REDIS_PREFIX: PREFIX, TWILIO_AUTH_TOKEN: AUTH_TOKEN, PUBLIC_BASE_URL },
    '/healthz',
  );

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
  const voiceSpec = (label: keyof typeof bad, counted: boolean): Omit<PhaseSpec, 'duration' | 'amount'> => ({
    label,
    port: gw.port,
    pid: gw.proc.pid,
    path: '/twilio/voice',
    connections: C,
    next: voiceBody,
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
  const voice = await runPhase({ ...voiceSpec('voice', true), duration: opts.duration });
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
      return sid === undefined ? null : dialActionBody(sid);
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
  const bareRun = await runPhase({ ...bareSpec, duration: opts.duration });

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

  const cpus = os.cpus();
  const env = {
    date: started.toISOString(),
    node: process.version,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? '?',
    loadAvgBefore: loadBefore,
    redis: redisVersion,
    git: gitRevision(),
  };

  const out: string[] = [];
  out.push('');
  out.push(`minutegate webhook bench — ${env.date}`);
  out.push(`node ${env.node}, ${env.cpus} CPU(s) (${env.cpuModel}), redis ${env.redis}, load avg before ${loadBefore.join(' ')}${env.git ? `, git ${env.git}` : ''}`);
  out.push(
    `${C} connections, warm-up ${opts.warmup} s + measured ${opts.duration} s per phase; ` +
      'gateway = node dist/main.js (NODE_ENV=production, LOG_LEVEL=warn); bare = node scripts/bench/bare-ceiling.mjs',
  );
  out.push('');
  const head1 = ['phase', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'requests', 'errors', 'timeouts', 'non-2xx', 'bad TwiML', 'server%', 'redis%', 'loadgen%', 'others%'];
  const pctCell = (x: number | null) => (x === null ? '-' : String(x));
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
  const widths = head1.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  out.push(line(head1));
  out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const t of table) out.push(line(t));
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

let exitCode = 1;
try {
  exitCode = await main();
} catch (err) {
  process.stderr.write(`[bench] failed: ${(err as Error).stack ?? String(err)}\n`);
  for (const c of children) {
    if (c.tail.length > 0) process.stderr.write(`[bench] last output of ${c.name}:\n  ${c.tail.join('\n  ')}\n`);
  }
} finally {
  await cleanup();
}
process.exit(exitCode);
