/**
 * WebSocket benchmark of the COMPILED gateway: socket authorizations, balance fan-out to
 * 10,000 dashboards, and Media Streams ingestion.
 *
 *   npm run bench:ws [-- --duration 10] [--warmup 2] [--only auth|fanout|media] [--build]
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
 *           softphone sockets watch their account.
 *   fanout  --dashboards (10,000) sockets with one staff token, opened in batches by
 *           --fanout-procs (2) client processes (scripts/bench/ws-fanout-clients.mjs) so
 *           that receiving does not share an event loop with the measurement. Gateway RSS
 *           (VmRSS) before and after they connect (lowest of 6 samples over 3 s idle) → MB per
           1,000 idle sockets. Then one
 *           admin adjustment (+1 minute) every 100 ms; delivery latency = each socket's
 *           receipt of that balance − the adjustment's send time (also − its 201), on the
 *           machine-wide monotonic clock. The gateway's longest event-loop stall is seen
 *           from outside: one admin socket (it watches nothing) sends {"type":"ping"} every
 *           5 ms and records pong round trips, idle first and then during the broadcasts.
 *   media   --streams (500) Media Streams sockets, each signed like Twilio (X-Twilio-Signature
 *           over wss://<PUBLIC_BASE_URL host>/twilio/media/<the call's token>, no params), for calls first
 *           placed through signed POST /twilio/voice (real, known CallSids): `connected`,
 *           `start`, then 50 media frames/s each (160-byte µ-law payload, Twilio's exact
 *           JSON shape), then `stop`. Server CPU from /proc/<pid>/stat over the measured
 *           window; the gateway's /metrics media-frame count must equal the frames sent.
 *
 * Client sockets use an all-zero WebSocket mask (ws `generateMask`), which spares the load
 * generator the masking work; the server unmasks every frame all the same.
 *
 * Prints a table (figure, target, ok/MISSED) and CPU shares per phase, then one JSON line.
 * Progress goes to stderr, results to stdout. Exit code 1 when a correctness check fails;
 * missed performance targets do not fail the run. Children are stopped and the bench's
 * Redis keys deleted (SCAN + UNLINK under its own prefix) on every exit path.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import WebSocket from 'ws';
import { accountKeys } from '../../src/redis/keys.js';
import { computeTwilioSignature } from '../../src/twilio/signature.js';
import {
  PUBLIC_BASE_URL,
  ROOT,
  adminApi,
  benchEnv,
  cpuSample,
  cpuShare,
  createLog,
  failUsage,
  fmtInt,
  formatTable,
  gatewayEnv,
  hex,
  hrMs,
  installCleanup,
  parseArgsOrExit,
  pctCell,
  pool,
  prepareBench,
  r1,
  r2,
  reportHeader,
  runBench,
  runIdentity,
  scrapeMetrics,
  sleep,
  softphoneCallParams,
  spawnNode,
  startServer,
  stopChild,
  trackChild,
  wholeNumber,
  type Child,
  type CpuSample,
  type CpuShare,
} from './common.js';

// ---------------------------------------------------------------- options

const PHASES = ['auth', 'fanout', 'media'] as const;
type Phase = (typeof PHASES)[number];

const USAGE = `usage: npm run bench:ws -- [--duration S] [--warmup S] [--only auth|fanout|media] [--build] [tuning]
  --duration S        measured seconds per phase (default 10)
  --warmup S          warm-up seconds per phase, not measured (default 2)
  --only PHASE        run one phase: auth, fanout or media (default: all three)
  --build             rebuild dist/ even when it looks up to date
 tuning (defaults are the issue's figures):
  --sockets N         auth: staff sockets (200)
  --staff N           auth: staff members per account (10)
  --auth-accounts N   auth: accounts the sockets are spread over (1)
  --inflight N        auth: authorize requests in flight per socket (1)
  --auth-rate R       auth: pace to R requests/s in total instead of a closed loop (0 = off)
  --dashboards N      fanout: dashboard sockets (10000)
  --fanout-procs N    fanout: client processes holding them (2)
  --streams N         media: concurrent streams at 50 frames/s (500)`;

function parseOptions() {
  const values = parseArgsOrExit(USAGE, {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    only: { type: 'string' },
    build: { type: 'boolean', default: false },
    sockets: { type: 'string', default: '200' },
    staff: { type: 'string', default: '10' },
    'auth-accounts': { type: 'string', default: '1' },
    inflight: { type: 'string', default: '1' },
    'auth-rate': { type: 'string', default: '0' },
    dashboards: { type: 'string', default: '10000' },
    'fanout-procs': { type: 'string', default: '2' },
    streams: { type: 'string', default: '500' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  const int = (name: string, raw: string, min: number, max: number) => wholeNumber(USAGE, name, raw, min, max);
  if (values.only !== undefined && !PHASES.includes(values.only as Phase)) {
    failUsage(USAGE, `--only: must be one of ${PHASES.join(', ')}, got ${values.only}`);
  }
  const o = {
    duration: int('duration', values.duration, 1, 600),
    warmup: int('warmup', values.warmup, 0, 60),
    phases: values.only ? [values.only as Phase] : [...PHASES],
    build: values.build,
    sockets: int('sockets', values.sockets, 1, 2000),
    staff: int('staff', values.staff, 1, 1000),
    authAccounts: int('auth-accounts', values['auth-accounts'], 1, 2000),
    inflight: int('inflight', values.inflight, 1, 64),
    authRate: int('auth-rate', values['auth-rate'], 0, 1_000_000),
    dashboards: int('dashboards', values.dashboards, 1, 20_000),
    fanoutProcs: int('fanout-procs', values['fanout-procs'], 1, 8),
    streams: int('streams', values.streams, 1, 5000),
  };
  if (o.authAccounts > o.sockets) {
    process.stderr.write(`--auth-accounts (${o.authAccounts}) cannot exceed --sockets (${o.sockets})\n`);
    process.exit(2);
  }
  return o;
}

const opts = parseOptions();

// ---------------------------------------------------------------- run identity

const ID = runIdentity('mgbench-ws');
const { run: RUN, prefix: PREFIX, authToken: AUTH_TOKEN, adminKey: ADMIN_KEY, twAccountSid: TW_ACCOUNT_SID } = ID;
const VOICE_URL = `${PUBLIC_BASE_URL}/twilio/voice`;
/** The API caps monthlyMinutes at 10,000,000 (account-routes.ts). */
const MONTHLY_MINUTES = 10_000_000;
const AUTHORIZATION_TTL_SECONDS = 60;
const WS_MAX_MESSAGES_PER_SECOND = 100_000;

const log = createLog('bench:ws');
const api = adminApi(ADMIN_KEY);
/** Set in main(); cleanup also runs when main() failed before connecting. */
let redis: Redis | null = null;

// ---------------------------------------------------------------- histogram
// µs values: 1 µs buckets below 1,024 µs, then 512 sub-buckets per power of two (≤ 0.2%
// error). ws-fanout-clients.mjs has the same bucketOf, so histograms merge by adding counts.

function bucketOf(us: number): number {
  const v = Math.max(0, Math.min(2 ** 31 - 1, Math.round(us)));
  if (v < 1024) return v;
  const e = 31 - Math.clz32(v) - 9;
  return 1024 + (e - 1) * 512 + ((v >> e) - 512);
}

function bucketValueUs(b: number): number {
  if (b < 1024) return b;
  const j = b - 1024;
  const e = Math.floor(j / 512) + 1;
  const sub = (j % 512) + 512;
  return sub * 2 ** e + 2 ** (e - 1); // the bucket's midpoint
}

class Hist {
  readonly counts = new Map<number, number>();
  n = 0;
  maxMs = 0;
  recordMs(ms: number): void {
    const b = bucketOf(ms * 1000);
    this.counts.set(b, (this.counts.get(b) ?? 0) + 1);
    this.n++;
    if (ms > this.maxMs) this.maxMs = ms;
  }
  addSerialized(entries: [number, number][], maxMs = 0): void {
    for (const [b, c] of entries) {
      this.counts.set(b, (this.counts.get(b) ?? 0) + c);
      this.n += c;
    }
    if (maxMs > this.maxMs) this.maxMs = maxMs;
  }
  /** Percentile in ms (the bucket's midpoint), 0 when empty. */
  pct(p: number): number {
    if (this.n === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.n));
    let seen = 0;
    for (const b of [...this.counts.keys()].sort((a, z) => a - z)) {
      seen += this.counts.get(b)!;
      if (seen >= rank) return bucketValueUs(b) / 1000;
    }
    return this.maxMs;
  }
  /** Max in ms: the exact value when recorded here, else the top bucket. */
  max(): number {
    if (this.maxMs > 0) return this.maxMs;
    return this.n === 0 ? 0 : bucketValueUs(Math.max(...this.counts.keys())) / 1000;
  }
  summary() {
    return { n: this.n, p50: r2(this.pct(50)), p90: r2(this.pct(90)), p99: r2(this.pct(99)), max: r2(this.max()) };
  }
}

// ---------------------------------------------------------------- child processes

/** The open-files limits this process (and so its children) starts with. */
function fileLimits(): { soft: number; hard: number } {
  const q = (flag: string) => {
    const r = spawnSync('/bin/sh', ['-c', `ulimit ${flag}`], { encoding: 'utf8' });
    const s = r.stdout?.trim();
    return s === 'unlimited' ? Infinity : Number(s) || 1024;
  };
  return { soft: q('-Sn'), hard: q('-Hn') };
}

/** A fresh gateway per phase, with the open-files limit raised for 10,000 sockets. */
function startGateway(label: string): Promise<Child> {
  return startServer({
    name: `gateway (${label})`,
    script: join(ROOT, 'dist', 'main.js'),
    env: {
      ...gatewayEnv(ID),
      WS_MAX_MESSAGES_PER_SECOND: String(WS_MAX_MESSAGES_PER_SECOND),
      AUTHORIZATION_TTL_SECONDS: String(AUTHORIZATION_TTL_SECONDS),
      // The auth phase keeps every authorization open for its TTL, thousands per staff
      // member: the per-staff cap (issue #8) is lifted so it measures throughput.
      MAX_OPEN_AUTHORIZATIONS_PER_STAFF: '100000',
      // Media Streams are off by default (the route answers 404); the media phase needs them.
      MEDIA_STREAMS: 'on',
    },
    readyPath: '/readyz',
    log,
    raiseFileLimit: true,
  });
}

// ---------------------------------------------------------------- memory (Linux /proc)

function vmRssMb(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- gateway API

async function mustApi(port: number, method: string, path: string, body: unknown, expect: number): Promise<any> {
  const r = await api(port, method, path, body);
  if (r.status !== expect) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
  return r.json;
}

async function createAccount(port: number, id: string, staff: { id: string; identity: string }[], phoneNumbers: string[] = []) {
  await mustApi(
    port,
    'POST',
    '/v1/accounts',
    {
      id,
      name: `ws bench ${id}`,
      monthlyMinutes: MONTHLY_MINUTES,
      staff: staff.map((s) => ({ id: s.id, email: `${s.id}@${id}.example`, identity: s.identity })),
      phoneNumbers,
    },
    201,
  );
}

async function staffToken(port: number, accountId: string, staffId: string): Promise<string> {
  return (await mustApi(port, 'POST', `/v1/accounts/${accountId}/staff/${staffId}/token`, { ttlSeconds: 3600 }, 201)).token as string;
}

const wsBase = (port: number) => `ws://127.0.0.1:${port}`;

/** `onMessage` is attached before the handshake: a first frame that arrives in the same
 *  read as the 101 response is emitted synchronously right after 'open', before any
 *  continuation of an awaited open could attach a listener. */
function openWs(url: string, headers: Record<string, string>, onMessage?: (data: Buffer) => void): Promise<WebSocket> {
  return new Promise((resolveWs, reject) => {
    const ws = new WebSocket(url, {
      headers,
      perMessageDeflate: false,
      skipUTF8Validation: true,
      generateMask() {}, // all-zero mask: no client-side masking work
      handshakeTimeout: 20_000,
    });
    if (onMessage) ws.on('message', (data: Buffer) => onMessage(data));
    ws.once('open', () => resolveWs(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => reject(new Error(`upgrade refused: HTTP ${res.statusCode} ${body.slice(0, 200)}`)));
    });
  });
}

const BALANCE_PREFIX = Buffer.from('{"type":"balance"');
const isBalance = (data: Buffer) =>
  data.length >= BALANCE_PREFIX.length && data.compare(BALANCE_PREFIX, 0, BALANCE_PREFIX.length, 0, BALANCE_PREFIX.length) === 0;

// ---------------------------------------------------------------- cleanup

/** Sockets of this process, terminated on cleanup. */
const openSockets = new Set<WebSocket>();
const trackWs = (ws: WebSocket) => {
  openSockets.add(ws);
  ws.once('close', () => openSockets.delete(ws));
  return ws;
};

const cleanup = installCleanup({
  log,
  prefix: PREFIX,
  redis: () => redis,
  stopLoad: () => {
    for (const ws of openSockets) ws.terminate();
  },
});

// ---------------------------------------------------------------- report rows

interface Row {
  phase: Phase;
  what: string;
  value: string;
  target: string;
  met: boolean | null; // null: no target
}

const rows: Row[] = [];
const cpuRows: { phase: Phase; window: string; cpu: CpuShare }[] = [];
const failures: string[] = [];
const notes: string[] = [];

function check(ok: boolean, what: string): boolean {
  if (!ok) failures.push(what);
  return ok;
}

// ---------------------------------------------------------------- phase: auth

async function authPhase() {
  const gw = await startGateway('auth');
  const A = opts.authAccounts;
  const staffPerAccount = Math.min(opts.staff, Math.ceil(opts.sockets / A));
  const accounts: { id: string; tokens: string[] }[] = [];
  for (let a = 0; a < A; a++) {
    const id = `wsauth${RUN}a${a}`;
    const staff = Array.from({ length: staffPerAccount }, (_, s) => ({ id: `s${s}`, identity: `wsb_${RUN}_a${a}_s${s}` }));
    await createAccount(gw.port, id, staff);
    accounts.push({ id, tokens: await Promise.all(staff.map((s) => staffToken(gw.port, id, s.id))) });
  }
  log(`auth: ${A} account(s) × ${staffPerAccount} staff, ${fmtInt(MONTHLY_MINUTES)} minutes each; opening ${opts.sockets} sockets`);

  interface S {
    idx: number;
    ws: WebSocket;
    inflight: Map<string, number>;
    seq: number;
    gotSnapshot: boolean;
  }
  const state = {
    running: true,
    measuring: false,
    mStart: Infinity,
    mEnd: Infinity,
    sent: 0,
    replies: 0,
    authorized: 0,
    denied: 0,
    errors: 0,
    other: 0,
    windowReplies: 0,
    windowBalanceFrames: 0,
    balanceFrames: 0,
    tokens: 0,
    firstBad: '' as string,
  };
  const hist = new Hist();
  const sockets: S[] = [];
  const TO = '+14155550100';

  const sendOne = (s: S) => {
    const id = `${RUN}.${s.idx}.${++s.seq}`;
    s.inflight.set(id, hrMs());
    state.sent++;
    s.ws.send(`{"type":"authorize","requestId":"${id}","to":"${TO}"}`);
  };
  const paced = opts.authRate > 0;
  const onMessage = (s: S, data: Buffer) => {
    const t = hrMs();
    if (isBalance(data)) {
      s.gotSnapshot = true;
      state.balanceFrames++;
      if (t >= state.mStart && t <= state.mEnd) state.windowBalanceFrames++;
      return;
    }
    let m: { type?: string; requestId?: string; code?: string };
    try {
      m = JSON.parse(data.toString());
    } catch {
      state.other++;
      return;
    }
    const sentAt = m.requestId === undefined ? undefined : s.inflight.get(m.requestId);
    if (sentAt === undefined) {
      state.other++;
      state.firstBad ||= data.toString().slice(0, 200);
      return;
    }
    s.inflight.delete(m.requestId!);
    state.replies++;
    if (m.type === 'authorized') state.authorized++;
    else {
      if (m.type === 'denied') state.denied++;
      else state.errors++;
      state.firstBad ||= data.toString().slice(0, 200);
    }
    if (t >= state.mStart && t <= state.mEnd) {
      state.windowReplies++;
      if (sentAt >= state.mStart) hist.recordMs(t - sentAt);
    }
    if (state.running && !paced) sendOne(s);
  };

  const idxs = Array.from({ length: opts.sockets }, (_, i) => i);
  await pool(idxs, 50, async (i) => {
    const acc = accounts[i % A]!;
    const token = acc.tokens[Math.floor(i / A) % acc.tokens.length]!;
    const s: S = { idx: i, ws: null as unknown as WebSocket, inflight: new Map(), seq: 0, gotSnapshot: false };
    const ws = trackWs(await openWs(`${wsBase(gw.port)}/v1/ws`, { authorization: `Bearer ${token}` }, (data) => onMessage(s, data)));
    s.ws = ws;
    ws.on('close', (code, reason) => {
      if (state.running) state.firstBad ||= `socket ${i} closed ${code} ${reason.toString()}`;
    });
    sockets[i] = s;
  });
  const snapDeadline = hrMs() + 10_000;
  while (sockets.some((s) => !s.gotSnapshot) && hrMs() < snapDeadline) await sleep(20);
  check(
    sockets.every((s) => s.gotSnapshot),
    'auth: every staff socket gets its balance snapshot on connect',
  );
  state.balanceFrames = 0;

  // Go.
  const t0 = hrMs();
  let ticker: NodeJS.Timeout | null = null;
  if (paced) {
    // Token bucket over all sockets, still bounded by --inflight per socket.
    let last = t0;
    let rr = 0;
    ticker = setInterval(() => {
      const now = hrMs();
      state.tokens = Math.min(state.tokens + ((now - last) * opts.authRate) / 1000, opts.authRate / 50 + 1);
      last = now;
      let idle = 0;
      while (state.tokens >= 1 && idle < sockets.length) {
        const s = sockets[rr++ % sockets.length]!;
        if (s.inflight.size >= opts.inflight) {
          idle++;
          continue;
        }
        idle = 0;
        state.tokens -= 1;
        sendOne(s);
      }
    }, 1);
  } else {
    for (const s of sockets) for (let k = 0; k < opts.inflight; k++) sendOne(s);
  }
  log(`auth: warm-up ${opts.warmup} s, then measuring ${opts.duration} s`);
  await sleep(opts.warmup * 1000);
  const cpuA = await cpuSample(redis, gw.proc.pid);
  state.mStart = hrMs();
  await sleep(opts.duration * 1000);
  state.mEnd = hrMs();
  const cpuB = await cpuSample(redis, gw.proc.pid);
  state.running = false;
  if (ticker) clearInterval(ticker);
  const drainUntil = hrMs() + 5_000;
  while (sockets.some((s) => s.inflight.size > 0) && hrMs() < drainUntil) await sleep(20);
  const unanswered = sockets.reduce((a, s) => a + s.inflight.size, 0);
  const elapsedS = (hrMs() - t0) / 1000;

  // Every granted authorization still holds its minute (none expired yet if the phase
  // was shorter than the TTL): reserved must equal them, summed over the accounts.
  await sleep(200);
  let reserved = 0;
  for (const a of accounts) reserved += Number((await mustApi(gw.port, 'GET', `/v1/accounts/${a.id}/balance`, undefined, 200)).reserved);
  const reservedCheckable = elapsedS + 1 < AUTHORIZATION_TTL_SECONDS;

  for (const s of sockets) s.ws.close();
  await stopChild(gw);

  const windowS = (state.mEnd - state.mStart) / 1000;
  const rps = state.windowReplies / windowS;
  const h = hist.summary();
  const cpu = cpuShare(cpuA, cpuB);
  cpuRows.push({ phase: 'auth', window: `${opts.duration} s`, cpu });
  const inflightTotal = opts.sockets * opts.inflight;
  const mode = paced ? `paced at ${fmtInt(opts.authRate)}/s, ≤ ${opts.inflight} in flight per socket` : `${opts.inflight} in flight per socket (${inflightTotal} in all)`;
  rows.push({ phase: 'auth', what: `authorizations/s — ${opts.sockets} sockets, ${A} account(s), ${mode}`, value: fmtInt(rps), target: '≥ 25,000', met: rps >= 25_000 });
  rows.push({ phase: 'auth', what: 'latency send → reply p50 / p99 / max (ms)', value: `${h.p50} / ${h.p99} / ${r1(h.max)}`, target: 'p99 ≤ 10', met: h.p99 <= 10 });
  rows.push({
    phase: 'auth',
    what: 'replies: authorized / denied / error / unanswered',
    value: `${fmtInt(state.authorized)} / ${state.denied} / ${state.errors} / ${unanswered}`,
    target: 'all authorized',
    met: check(state.denied === 0 && state.errors === 0 && unanswered === 0 && state.other === 0 && state.authorized > 0, 'auth: every reply is authorized'),
  });
  const perReply = state.windowReplies > 0 ? state.windowBalanceFrames / state.windowReplies : 0;
  rows.push({
    phase: 'auth',
    what: 'balance frames received per reply (every authorization changes `reserved`)',
    value: `${r1(perReply)} (${fmtInt(state.windowBalanceFrames / windowS)}/s)`,
    target: '-',
    met: null,
  });
  if (perReply > 10) {
    notes.push(
      `auth: each authorization changed the pool's \`reserved\` and so was broadcast to every socket of its account ` +
        `(${r1(perReply)} balance frames per reply): with ${opts.sockets} sockets on ${A} account(s) this fan-out, not the authorization path, ` +
        `bounds the rate. \`--auth-accounts ${opts.sockets}\` (one socket per account) measures the authorization path alone.`,
    );
  }
  if (reservedCheckable) {
    rows.push({
      phase: 'auth',
      what: 'pool: reserved minutes = authorizations granted',
      value: `${fmtInt(reserved)} = ${fmtInt(state.authorized)}`,
      target: 'equal',
      met: check(reserved === state.authorized, 'auth: reserved equals the authorizations granted'),
    });
  }
  return {
    sockets: opts.sockets,
    accounts: A,
    inflightPerSocket: opts.inflight,
    paceRps: opts.authRate || null,
    rps: Math.round(rps),
    latencyMs: h,
    sent: state.sent,
    authorized: state.authorized,
    denied: state.denied,
    errors: state.errors,
    unanswered,
    unexpectedFrames: state.other,
    firstUnexpected: state.firstBad || null,
    balanceFramesPerReply: r2(perReply),
    reserved,
    reservedCheckable,
    cpu,
    gatewayWarnLogLines: gw.warnLines,
  };
}

// ---------------------------------------------------------------- phase: fanout

interface ClientProc {
  child: Child;
  count: number;
  pending: ((m: any) => void)[];
}

function startClientProc(i: number): Promise<ClientProc> {
  const proc = spawnNode([join(ROOT, 'scripts', 'bench', 'ws-fanout-clients.mjs')], { PATH: process.env.PATH ?? '' }, { raiseFileLimit: true, ipc: true });
  const child = trackChild(`fan-out clients ${i}`, proc, 0);
  const cp: ClientProc = { child, count: 0, pending: [] };
  return new Promise((resolveProc, reject) => {
    const timer = setTimeout(() => reject(new Error(`${child.name} did not start: ${child.tail.join(' ')}`)), 10_000);
    proc.on('message', (m: any) => {
      if (m.ev === 'ready') {
        clearTimeout(timer);
        resolveProc(cp);
        return;
      }
      if (m.ev === 'error') log(`${child.name}: ${m.message}`);
      cp.pending.shift()?.(m);
    });
    void child.exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${child.name} exited: ${child.tail.join(' ')}`));
      for (const p of cp.pending.splice(0)) p({ ev: 'error', message: 'exited' });
    });
  });
}

/** One request/answer over IPC (the client process answers in order). */
function ask(cp: ClientProc, msg: object, timeoutMs = 120_000): Promise<any> {
  return new Promise((resolveAsk, reject) => {
    const t = setTimeout(() => reject(new Error(`${cp.child.name}: no answer to ${JSON.stringify(msg).slice(0, 60)}`)), timeoutMs);
    cp.pending.push((m) => {
      clearTimeout(t);
      if (m.ev === 'error') reject(new Error(`${cp.child.name}: ${m.message}`));
      else resolveAsk(m);
    });
    cp.child.proc.send(msg);
  });
}

/** Pings the gateway every 5 ms from a socket that watches nothing; a pong's round trip
 *  includes any stall of the gateway's event loop. */
function pingProbe(ws: WebSocket) {
  const sent = new Map<string, number>();
  let seq = 0;
  let hist = new Hist();
  ws.on('message', (data: Buffer) => {
    const t = hrMs();
    const m = JSON.parse(data.toString()) as { type?: string; requestId?: string };
    if (m.type !== 'pong' || m.requestId === undefined) return;
    const at = sent.get(m.requestId);
    if (at === undefined) return;
    sent.delete(m.requestId);
    hist.recordMs(t - at);
  });
  const tick = () => {
    const id = `p${++seq}`;
    sent.set(id, hrMs());
    ws.send(`{"type":"ping","requestId":"${id}"}`);
  };
  let timer: NodeJS.Timeout | null = setInterval(tick, 5);
  return {
    /** Starts a new histogram and returns the previous one. Pings in flight are recorded
     *  in the new one when they come back. */
    take(): Hist {
      const out = hist;
      hist = new Hist();
      return out;
    },
    /** Stops pinging, waits (≤ 2 s) for the pings in flight, and returns the histogram
     *  with the number of pings never answered. */
    async finish(): Promise<{ hist: Hist; lost: number }> {
      if (timer) clearInterval(timer);
      timer = null;
      const until = hrMs() + 2000;
      while (sent.size > 0 && hrMs() < until) await sleep(5);
      const out = { hist, lost: sent.size };
      sent.clear();
      hist = new Hist();
      return out;
    },
    resume() {
      timer ??= setInterval(tick, 5);
    },
  };
}

async function fanoutPhase() {
  const N = opts.dashboards;
  const limits = fileLimits();
  const need = N + 200;
  if (limits.hard < need) {
    throw new Error(
      `fanout: ${N} sockets need about ${need} open files in the gateway, but the hard limit is ${limits.hard}; ` +
        `raise it (e.g. \`ulimit -Hn 65536\` as root or in /etc/security/limits.conf) or pass --dashboards`,
    );
  }
  const gw = await startGateway('fanout');
  const accountId = `wsfan${RUN}`;
  await createAccount(gw.port, accountId, [{ id: 'dash', identity: `wsb_${RUN}_dash` }]);
  const token = await staffToken(gw.port, accountId, 'dash');
  const P = Math.min(opts.fanoutProcs, N);
  const procs = await Promise.all(Array.from({ length: P }, (_, i) => startClientProc(i)));
  procs.forEach((p, i) => (p.count = Math.floor(N / P) + (i < N % P ? 1 : 0)));

  await sleep(1000);
  const rssBefore = vmRssMb(gw.proc.pid);
  log(`fanout: gateway RSS ${rssBefore?.toFixed(1)} MB; opening ${fmtInt(N)} dashboard sockets in ${P} client process(es)`);
  const opened = await Promise.all(
    procs.map((p) => ask(p, { cmd: 'open', url: `${wsBase(gw.port)}/v1/ws`, token, count: p.count, concurrency: 100 })),
  );
  const openCount = opened.reduce((a, o) => a + o.opened, 0);
  const withSnapshot = opened.reduce((a, o) => a + o.withSnapshot, 0);
  const openFailed = opened.reduce((a, o) => a + o.failed, 0);
  log(`fanout: ${fmtInt(openCount)} open (${fmtInt(withSnapshot)} with their first snapshot) in ${r1(Math.max(...opened.map((o) => o.ms)) / 1000)} s` +
    (openFailed ? `; ${openFailed} failed: ${opened.find((o) => o.firstError)?.firstError}` : ''));
  // RSS right after a connection storm still holds its garbage: take the lowest of a few
  // samples over 3 s of idle.
  let rssAfter: number | null = null;
  for (let i = 0; i < 6; i++) {
    await sleep(500);
    const v = vmRssMb(gw.proc.pid);
    if (v !== null && (rssAfter === null || v < rssAfter)) rssAfter = v;
  }
  const rssPer1000 = rssBefore !== null && rssAfter !== null && openCount > 0 ? (rssAfter - rssBefore) / (openCount / 1000) : null;

  // The stall probe: idle first (baseline), then during the broadcasts.
  const probeWs = trackWs(await openWs(`${wsBase(gw.port)}/v1/ws`, { authorization: `Bearer ${ADMIN_KEY}` }));
  const probe = pingProbe(probeWs);
  await sleep(1000);
  probe.take(); // the first pings warm the path up
  await sleep(2000);
  const idle = await probe.finish();
  probe.resume();

  const before = await mustApi(gw.port, 'GET', `/v1/accounts/${accountId}/balance`, undefined, 200);
  const b0 = Number(before.balance);
  const total = Math.max(1, Math.round((opts.warmup + opts.duration) * 10));
  const warm = Math.round(opts.warmup * 10);
  const adjustments: { balance: number; sentMs: number; ackMs: number; measured: boolean }[] = [];
  let adjustFailures = 0;
  let firstAdjustFailure = '';
  log(`fanout: ${total} adjustments, one every 100 ms (${warm} of them warm-up)`);
  const helperPids = procs.map((p) => p.child.proc.pid);
  let cpuA: CpuSample | null = null;
  const tStart = hrMs() + 50;
  const inFlight: Promise<void>[] = [];
  for (let k = 0; k < total; k++) {
    const due = tStart + k * 100;
    const wait = due - hrMs();
    if (wait > 0) await sleep(wait);
    if (k === warm) {
      probe.take();
      cpuA = await cpuSample(redis, gw.proc.pid, helperPids);
    }
    const sentMs = hrMs();
    const measured = k >= warm;
    inFlight.push(
      api(gw.port, 'POST', `/v1/accounts/${accountId}/adjustments`, { minutes: 1, reason: 'bench' }).then(
        (r) => {
          const ackMs = hrMs();
          // 201 {"balance": <the balance view>} (a bare number in older versions)
          const b = Number(typeof r.json?.balance === 'object' ? r.json.balance?.balance : r.json?.balance);
          if (r.status === 201 && Number.isFinite(b)) adjustments.push({ balance: b, sentMs, ackMs, measured });
          else {
            adjustFailures++;
            firstAdjustFailure ||= `${r.status} ${JSON.stringify(r.json).slice(0, 200)}`;
          }
        },
        (err: Error) => {
          adjustFailures++;
          firstAdjustFailure ||= err.message;
        },
      ),
    );
  }
  await Promise.all(inFlight);
  // The window ends once the last broadcast has reached every socket (or 10 s passed).
  const lastBalance = b0 + total;
  const finals = await Promise.all(procs.map((p) => ask(p, { cmd: 'final', balance: lastBalance, timeoutMs: 10_000 })));
  const cpuB = await cpuSample(redis, gw.proc.pid, helperPids);
  const busy = await probe.finish();
  const missingFinal = finals.reduce((a, f) => a + f.missing, 0);

  const measuredAdj = adjustments.filter((a) => a.measured).map((a) => [a.balance, a.sentMs, a.ackMs]);
  const reports = await Promise.all(procs.map((p) => ask(p, { cmd: 'report', adjustments: measuredAdj })));
  const fromSend = new Hist();
  const fromAck = new Hist();
  let delivered = 0;
  let expected = 0;
  let received = 0;
  const closes: Record<string, number> = {};
  const heartbeats: number[] = [];
  for (const r of reports) {
    fromSend.addSerialized(r.fromSend, r.maxMs);
    fromAck.addSerialized(r.fromAck);
    delivered += r.delivered;
    expected += r.expected;
    received += r.received;
    for (const [code, n] of Object.entries(r.closes as Record<string, number>)) closes[code] = (closes[code] ?? 0) + n;
    heartbeats.push(...(r.heartbeats as number[]));
  }
  const windowStart = cpuA?.wall ?? tStart;
  const heartbeatsInWindow = heartbeats.filter((t) => t >= windowStart && t <= cpuB.wall).length;
  const cpu = cpuA ? cpuShare(cpuA, cpuB, P) : null;
  if (cpu) cpuRows.push({ phase: 'fanout', window: `${r1((cpuB.wall - cpuA!.wall) / 1000)} s`, cpu });

  for (const p of procs) p.child.proc.send({ cmd: 'close' });
  probeWs.close();
  await Promise.all(procs.map((p) => Promise.race([p.child.exited, sleep(3000)])));
  await stopChild(gw);

  const s = fromSend.summary();
  const a = fromAck.summary();
  const ib = idle.hist.summary();
  const bb = busy.hist.summary();
  if (busy.hist.n === 0) failures.push('fanout: the ping probe got no answer');
  rows.push({
    phase: 'fanout',
    what: `sockets open with their first snapshot / asked`,
    value: `${fmtInt(withSnapshot)} / ${fmtInt(N)}`,
    target: 'all',
    met: check(withSnapshot === N && openFailed === 0, 'fanout: every dashboard socket opens and gets its snapshot'),
  });
  rows.push({
    phase: 'fanout',
    what: `gateway RSS idle → with ${fmtInt(openCount)} idle sockets (MB); per 1,000`,
    value: `${rssBefore?.toFixed(1)} → ${rssAfter?.toFixed(1)}; ${rssPer1000 === null ? '-' : rssPer1000.toFixed(2)}`,
    target: '≤ 8 MB per 1,000',
    met: rssPer1000 === null ? null : rssPer1000 <= 8,
  });
  rows.push({
    phase: 'fanout',
    what: `delivery latency, adjustment sent → socket (ms) p50 / p99 / max`,
    value: `${s.p50} / ${s.p99} / ${r1(s.max)}`,
    target: 'p99 ≤ 150',
    met: s.p99 <= 150,
  });
  rows.push({ phase: 'fanout', what: `delivery latency, adjustment's 201 → socket (ms) p50 / p99`, value: `${a.p50} / ${a.p99}`, target: '-', met: null });
  rows.push({
    phase: 'fanout',
    what: `deliveries / socket×changes (${measuredAdj.length} measured changes; the rest coalesced)`,
    value: `${fmtInt(delivered)} / ${fmtInt(expected)} (${expected ? r1((delivered / expected) * 100) : 0}%)`,
    target: '-',
    met: null,
  });
  rows.push({
    phase: 'fanout',
    what: 'every socket has the last balance; no socket closed',
    value: `${fmtInt(missingFinal)} missing; closes ${JSON.stringify(closes)}`,
    target: '0; {}',
    met: check(missingFinal === 0 && Object.keys(closes).length === 0, 'fanout: every socket receives the last balance and none is closed'),
  });
  rows.push({
    phase: 'fanout',
    what: 'adjustments answered 201',
    value: `${adjustments.length} / ${total}`,
    target: 'all',
    met: check(adjustFailures === 0, `fanout: every adjustment answered 201${firstAdjustFailure ? ` (first failure: ${firstAdjustFailure})` : ''}`),
  });
  rows.push({ phase: 'fanout', what: 'ping RTT idle p99 / max (ms) — baseline', value: `${ib.p99} / ${r1(ib.max)}`, target: '-', met: null });
  rows.push({
    phase: 'fanout',
    what: `ping RTT during broadcasts p99 / max (ms) — longest event-loop stall ≈ max${heartbeatsInWindow ? ' (a 30 s heartbeat sweep fell in the window)' : ''}`,
    value: `${bb.p99} / ${r1(bb.max)}${busy.lost ? ` (${busy.lost} unanswered)` : ''}`,
    target: 'max ≤ 20',
    met: bb.max <= 20 && busy.lost === 0,
  });
  return {
    dashboards: N,
    clientProcesses: P,
    opened: openCount,
    withSnapshot,
    openFailed,
    rssBeforeMb: rssBefore === null ? null : r1(rssBefore),
    rssAfterMb: rssAfter === null ? null : r1(rssAfter),
    rssPer1000Mb: rssPer1000 === null ? null : r2(rssPer1000),
    changes: total,
    measuredChanges: measuredAdj.length,
    adjustFailures,
    deliveryFromSendMs: s,
    deliveryFromAckMs: a,
    delivered,
    expected,
    framesReceived: received,
    missingFinal,
    closes,
    pingIdleMs: ib,
    pingBusyMs: { ...bb, lost: busy.lost },
    heartbeatSweepsInWindow: heartbeatsInWindow,
    cpu,
    gatewayWarnLogLines: gw.warnLines,
  };
}

// ---------------------------------------------------------------- phase: media

function mulawPayload(): string {
  // 160 bytes = 20 ms of 8 kHz µ-law; values near silence (0xFF/0x7F) with some noise.
  const b = randomBytes(160);
  for (let i = 0; i < b.length; i++) b[i] = (b[i]! & 0x0f) | (i % 2 ? 0xf0 : 0x70);
  return b.toString('base64');
}

async function mediaPhase() {
  const S = opts.streams;
  const gw = await startGateway('media');
  const accountId = `wsmed${RUN}`;
  const identity = `wsb_${RUN}_media`;
  const number = `+1628556${String(Math.floor(Math.random() * 1e4)).padStart(4, '0')}`;
  await createAccount(gw.port, accountId, [{ id: 'alice', identity }], [number]);

  // Real calls first: the streams' start/stop then find their account and call.
  const sidBase = hex(8);
  const callSids = Array.from({ length: S }, (_, i) => `CA${sidBase}${(i + 1).toString(16).padStart(16, '0')}`);
  log(`media: placing ${S} calls through signed POST /twilio/voice`);
  const placed = await pool(callSids, 20, async (sid) => {
    const params: Record<string, string> = {
      ...softphoneCallParams(ID, sid, 'ringing', identity),
      Direction: 'inbound',
      From: `client:${identity}`,
      To: '+14155550100',
    };
    const res = await fetch(`http://127.0.0.1:${gw.port}/twilio/voice`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': computeTwilioSignature(AUTH_TOKEN, VOICE_URL, params) },
      body: new URLSearchParams(params).toString(),
    });
    const text = await res.text();
    // Each call's stream URL carries its own token in the path (R18).
    const url = /<Stream url="([^"]+)"/.exec(text)?.[1];
    return res.status === 200 && text.includes('<Dial') && url ? url.replace(/&amp;/g, '&') : null;
  });
  const allowed = placed.filter(Boolean).length;
  if (!check(allowed === S, `media: all ${S} calls allowed by /twilio/voice`)) throw new Error(`media: only ${allowed} of ${S} calls were allowed`);

  interface Stream {
    ws: WebSocket;
    callSid: string;
    streamSid: string;
    payload: string;
    seq: number;
    chunk: number;
    next: number;
  }
  log(`media: opening ${S} signed Media Streams sockets`);
  let closedEarly = 0;
  let running = true;
  const streams = await pool(callSids.map((sid, i) => [sid, placed[i]!] as const), 50, async ([callSid, streamUrl]): Promise<Stream> => {
    // Twilio signs the stream's upgrade over its URL alone.
    const signature = computeTwilioSignature(AUTH_TOKEN, streamUrl, {});
    const ws = trackWs(await openWs(`${wsBase(gw.port)}${new URL(streamUrl).pathname}`, { 'x-twilio-signature': signature }));
    ws.on('close', () => {
      if (running) closedEarly++;
    });
    const streamSid = `MZ${hex(16)}`;
    ws.send('{"event":"connected","protocol":"Call","version":"1.0.0"}');
    ws.send(
      JSON.stringify({
        event: 'start',
        sequenceNumber: '1',
        start: {
          accountSid: TW_ACCOUNT_SID,
          streamSid,
          callSid,
          tracks: ['inbound'],
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
          customParameters: { callSid },
        },
        streamSid,
      }),
    );
    return { ws, callSid, streamSid, payload: mulawPayload(), seq: 1, chunk: 0, next: 0 };
  });

  const framesPerStream = (opts.warmup + opts.duration) * 50;
  let sent = 0;
  let sentInWindow = 0;
  let maxLagMs = 0;
  let maxBuffered = 0;
  let inWindow = false;
  let windowDone = false;
  const t0 = hrMs() + 50;
  // Spread the streams over the 20 ms frame period, as independent calls would be.
  streams.forEach((s, i) => (s.next = t0 + ((i * 20) / S)));
  const sendDue = () => {
    const now = hrMs();
    let pending = false;
    for (const s of streams) {
      while (s.chunk < framesPerStream && s.next <= now) {
        if (now - s.next > maxLagMs) maxLagMs = now - s.next;
        s.seq++;
        s.chunk++;
        s.ws.send(
          `{"event":"media","sequenceNumber":"${s.seq}","media":{"track":"inbound","chunk":"${s.chunk}","timestamp":"${(s.chunk - 1) * 20}","payload":"${s.payload}"},"streamSid":"${s.streamSid}"}`,
        );
        s.next += 20;
        sent++;
        if (inWindow) sentInWindow++;
      }
      if (s.chunk < framesPerStream) pending = true;
      if (s.ws.bufferedAmount > maxBuffered) maxBuffered = s.ws.bufferedAmount;
    }
    return pending;
  };
  log(`media: ${S} streams × 50 frames/s = ${fmtInt(S * 50)} frames/s; warm-up ${opts.warmup} s, then measuring ${opts.duration} s`);
  const cpuS: { a?: CpuSample; b?: CpuSample } = {};
  const mStart = t0 + opts.warmup * 1000;
  const mEnd = mStart + opts.duration * 1000;
  await new Promise<void>((done) => {
    const timer = setInterval(() => {
      const now = hrMs();
      if (!inWindow && !windowDone && now >= mStart) {
        inWindow = true;
        void cpuSample(redis, gw.proc.pid).then((c) => (cpuS.a = c));
      }
      if (inWindow && now >= mEnd) {
        inWindow = false;
        windowDone = true;
        void cpuSample(redis, gw.proc.pid).then((c) => (cpuS.b = c));
      }
      if (!sendDue() && cpuS.b !== undefined) {
        clearInterval(timer);
        done();
      }
    }, 1);
  });
  running = false;
  for (const s of streams) {
    s.seq++;
    s.ws.send(JSON.stringify({ event: 'stop', sequenceNumber: String(s.seq), stop: { accountSid: TW_ACCOUNT_SID, callSid: s.callSid }, streamSid: s.streamSid }));
  }
  await sleep(500);
  const metrics = await scrapeMetrics(gw.port);
  // Each stream's start and stop reached the call (media-stream-2.lua stamps the call hash).
  const keys = accountKeys(PREFIX, accountId);
  const pipe = redis!.pipeline();
  for (const sid of callSids) pipe.hmget(keys.call(sid), 'streamStartedAt', 'streamEndedAt');
  const stamps = ((await pipe.exec()) ?? []).map(([, v]) => v as (string | null)[]);
  const startedMarked = stamps.filter((v) => v?.[0]).length;
  const stoppedMarked = stamps.filter((v) => v?.[1]).length;
  for (const s of streams) s.ws.close();
  await sleep(200);
  await stopChild(gw);

  const counted = metrics.get('minutegate_media_frames_total{kind="media"}') ?? -1;
  const malformed = metrics.get('minutegate_media_frames_total{kind="malformed"}') ?? -1;
  const cpu = cpuShare(cpuS.a!, cpuS.b!);
  const windowS = (cpuS.b!.wall - cpuS.a!.wall) / 1000;
  cpuRows.push({ phase: 'media', window: `${r1(windowS)} s`, cpu });
  rows.push({
    phase: 'media',
    what: `frames sent / counted by the gateway (${S} streams)`,
    value: `${fmtInt(sent)} / ${fmtInt(counted)}; malformed ${malformed}`,
    target: 'equal; 0',
    met: check(counted === sent && malformed === 0 && closedEarly === 0, 'media: the gateway counts every frame sent, none malformed, no stream closed early'),
  });
  rows.push({
    phase: 'media',
    what: 'calls whose stream start / stop the gateway recorded',
    value: `${startedMarked} / ${stoppedMarked} of ${S}`,
    target: 'all',
    met: check(startedMarked === S && stoppedMarked === S, 'media: every stream start and stop is recorded on its call'),
  });
  rows.push({
    phase: 'media',
    what: `frames/s in the measured window (loadgen lag max ${r1(maxLagMs)} ms)`,
    value: fmtInt(sentInWindow / windowS),
    target: `${fmtInt(S * 50)}`,
    met: sentInWindow / windowS >= S * 50 * 0.95,
  });
  rows.push({
    phase: 'media',
    what: 'gateway CPU, % of one core',
    value: cpu.server === null ? '-' : `${cpu.server}%`,
    target: '≤ 50%',
    met: cpu.server === null ? null : cpu.server <= 50,
  });
  if (maxLagMs > 40) {
    notes.push(`media: the load generator fell up to ${r1(maxLagMs)} ms behind its 20 ms schedule (frames then went out in bursts); the rate over the window is what counts`);
  }
  return {
    streams: S,
    framesSent: sent,
    framesInWindow: sentInWindow,
    framesPerSecond: Math.round(sentInWindow / windowS),
    framesCounted: counted,
    malformed,
    closedEarly,
    loadgenMaxLagMs: r2(maxLagMs),
    maxClientBufferedBytes: maxBuffered,
    callSidsKnown: true,
    streamStartsRecorded: startedMarked,
    streamStopsRecorded: stoppedMarked,
    cpu,
    gatewayWarnLogLines: gw.warnLines,
  };
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const { start, redisVersion } = await prepareBench(opts.build, log, (r) => (redis = r));
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
