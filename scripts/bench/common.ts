/**
 * What the two benchmarks (webhooks.ts, ws.ts) share: how they name a run, parse their
 * flags, build and start the COMPILED gateway, account for CPU, talk to the admin API,
 * clean up after themselves and print their tables. Kept in one place so that both
 * benches keep measuring the gateway the same way when one of these changes.
 *
 * One bench runs per process, so the registry of child processes is module state: every
 * exit path (normal, error, Ctrl-C, process.exit) must find all of them to stop them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Redis } from 'ioredis';

/** The repository root (this file is scripts/bench/common.ts). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The URL Twilio would call; signatures are computed over it, the requests go to 127.0.0.1. */
export const PUBLIC_BASE_URL = 'https://gw.bench.minutegate.test';

// ---------------------------------------------------------------- small helpers

export type Log = (msg: string) => void;

/** Progress goes to stderr so that stdout holds only the results (table + JSON line). */
export const createLog =
  (tag: string): Log =>
  (msg) =>
    process.stderr.write(`[${tag}] ${msg}\n`);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Milliseconds on CLOCK_MONOTONIC: comparable between processes on this machine. */
export const hrMs = () => Number(process.hrtime.bigint()) / 1e6;
export const hex = (bytes: number) => randomBytes(bytes).toString('hex');
export const r1 = (x: number) => Math.round(x * 10) / 10;
export const r2 = (x: number) => Math.round(x * 100) / 100;
export const fmtInt = (x: number) => Math.round(x).toLocaleString('en-US');

// ---------------------------------------------------------------- run identity

/** Fresh secrets and a Redis prefix per run, so a run never sees (or deletes) another's keys. */
export interface RunIdentity {
  run: string;
  prefix: string;
  authToken: string;
  adminKey: string;
  staffSecret: string;
  twAccountSid: string;
  twAppSid: string;
}

export function runIdentity(prefixBase: string): RunIdentity {
  const run = hex(4);
  return {
    run,
    prefix: `${prefixBase}-${run}`,
    authToken: `bench-auth-${hex(16)}`,
    adminKey: `bench-admin-${hex(16)}`,
    staffSecret: `bench-staff-${hex(24)}`,
    twAccountSid: `AC${hex(16)}`,
    twAppSid: `AP${hex(16)}`,
  };
}

/** The gateway's environment as production runs it, bound to this run's prefix and secrets. */
export function gatewayEnv(id: RunIdentity): Record<string, string> {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    REDIS_URL,
    REDIS_PREFIX: id.prefix,
    TWILIO_AUTH_TOKEN: id.authToken,
    // Production requires it (R15); REST points nowhere: no call of a run is due for it.
    TWILIO_ACCOUNT_SID: id.twAccountSid,
    TWILIO_API_BASE_URL: 'http://127.0.0.1:9',
    TWILIO_VIDEO_API_BASE_URL: 'http://127.0.0.1:9',
    // No load balancer to drain from: stop at once when the bench is done.
    DRAIN_DELAY_SECONDS: '0',
    ADMIN_API_KEY: id.adminKey,
    STAFF_TOKEN_SECRET: id.staffSecret,
    PUBLIC_BASE_URL,
  };
}

/** The parameters Twilio sends first for a call a Voice SDK softphone places through the
 *  TwiML App, in Twilio's order (the form body keeps it; the signature sorts them). Each
 *  bench adds the request's own after these. */
export function softphoneCallParams(id: RunIdentity, callSid: string, callStatus: string, identity: string): Record<string, string> {
  return {
    AccountSid: id.twAccountSid,
    ApiVersion: '2010-04-01',
    ApplicationSid: id.twAppSid,
    CallSid: callSid,
    CallStatus: callStatus,
    Called: '',
    Caller: `client:${identity}`,
  };
}

// ---------------------------------------------------------------- options

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** A bad flag: the message and the usage on stderr, exit code 2. */
export function failUsage(usage: string, message: string): never {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(2);
}

/** Strict parseArgs (no positionals); `--help` prints the usage and exits 0. The caller
 *  declares `help` among its options so that it appears in the parsed values' type. */
export function parseArgsOrExit<O extends OptionsConfig>(usage: string, options: O) {
  let parsed;
  try {
    parsed = parseArgs({ options, strict: true, allowPositionals: false });
  } catch (err) {
    failUsage(usage, (err as Error).message);
  }
  if ((parsed.values as { help?: unknown }).help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return parsed.values;
}

export function wholeNumber(usage: string, name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    failUsage(usage, `--${name}: must be a whole number from ${min} to ${max}, got ${raw}`);
  }
  return n;
}

// ---------------------------------------------------------------- build

/** dist/ is stale when a compiled file is missing or older than its source. */
export function distIsStale(): string | null {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
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

/** The benches measure dist/ (what production runs), so it must match src/. */
export function ensureBuilt(force: boolean, log: Log): void {
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

export interface Child {
  name: string;
  proc: ChildProcess;
  port: number;
  /** The last 40 output lines, shown when the bench fails. */
  tail: string[];
  warnLines: number;
  exited: Promise<void>;
  alive: boolean;
}

/** Every child process this bench started: cleanup and the exit hook stop them all. */
export const children: Child[] = [];

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolvePort(port));
    });
  });
}

/** Runs `node <args>` with exactly `env`: in particular no NODE_OPTIONS / loader flags from
 *  tsx, so the child runs the compiled JS as production does. `raiseFileLimit` starts it
 *  through `sh -c 'ulimit -n <hard limit>; exec node …'` (for 10,000 sockets); `exec` keeps
 *  the pid, so /proc/<pid> is node's own. */
export function spawnNode(args: string[], env: Record<string, string>, o: { raiseFileLimit?: boolean; ipc?: boolean } = {}): ChildProcess {
  // BENCH_CPU_PROF=<dir>: every spawned process writes a V8 CPU profile there on exit.
  const profDir = process.env.BENCH_CPU_PROF;
  if (profDir) args = ['--cpu-prof', `--cpu-prof-dir=${profDir}`, ...args];
  const stdio: ('ignore' | 'pipe' | 'ipc')[] = o.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'];
  if (!o.raiseFileLimit) return spawn(process.execPath, args, { cwd: ROOT, env, stdio });
  return spawn('/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, ...args], {
    cwd: ROOT,
    env,
    stdio,
  });
}

/** Registers a child: keeps its output tail, counts its warn/error log lines. */
export function trackChild(name: string, proc: ChildProcess, port: number): Child {
  const child: Child = { name, proc, port, tail: [], warnLines: 0, exited: Promise.resolve(), alive: true };
  child.exited = new Promise((r) =>
    proc.once('exit', () => {
      child.alive = false;
      r();
    }),
  );
  const onData = (buf: Buffer) => {
    for (const line of buf.toString('utf8').split('\n')) {
      if (!line) continue;
      if (/"level":"(warn|error)"/.test(line)) child.warnLines++;
      child.tail.push(line);
      if (child.tail.length > 40) child.tail.shift();
    }
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  children.push(child);
  return child;
}

/** Starts a server script on a free port and waits (≤ 20 s) until `readyPath` answers 2xx. */
export async function startServer(o: {
  name: string;
  script: string;
  env: Record<string, string>;
  readyPath: string;
  log: Log;
  raiseFileLimit?: boolean;
}): Promise<Child> {
  const port = await freePort();
  const env = { PATH: process.env.PATH ?? '', PORT: String(port), ...o.env };
  const proc = spawnNode([o.script], env, { raiseFileLimit: o.raiseFileLimit });
  const child = trackChild(o.name, proc, port);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && child.alive) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}${o.readyPath}`);
      if (res.ok) {
        o.log(`${child.name} ready on port ${port} (pid ${proc.pid})`);
        return child;
      }
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${child.name} did not become ready${child.alive ? ' within 20 s' : ` (exit code ${proc.exitCode})`}:\n  ${child.tail.join('\n  ')}`);
}

/** SIGTERM (the gateway drains), SIGKILL after 5 s. */
export async function stopChild(child: Child): Promise<void> {
  if (!child.alive) return;
  child.proc.kill('SIGTERM');
  const done = await Promise.race([child.exited.then(() => true), sleep(5_000).then(() => false)]);
  if (!done && child.alive) {
    child.proc.kill('SIGKILL');
    await child.exited;
  }
}

// ---------------------------------------------------------------- CPU accounting (Linux /proc)
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

/** `helperPids`: load-generator processes of this bench (ws.ts's fan-out clients). */
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

// ---------------------------------------------------------------- gateway API

export type Api = (port: number, method: string, path: string, body?: unknown) => Promise<{ status: number; json: any }>;

/** Admin API requests with this run's key; the body is parsed as JSON when it is JSON. */
export function adminApi(adminKey: string): Api {
  return async (port, method, path, body) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
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
  };
}

/** The gateway's own counters, keyed by name with labels, e.g. `minutegate_x{kind="y"}`. */
export async function scrapeMetrics(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const m = /^(minutegate_[a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** Runs `fn` over `items` with at most `n` at a time. */
export async function pool<T, R>(items: T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

// ---------------------------------------------------------------- Redis

/** Errors surface through the commands (connect() rejects); the 'error' events would only
 *  repeat them on stderr. */
export function createRedis(): Redis {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  return redis;
}

export async function redisServerVersion(redis: Redis): Promise<string> {
  return /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? '?';
}

/** SCAN + UNLINK under the run's prefix (never KEYS/DEL: Redis is shared). With no client
 *  of the bench's own (it failed before connecting), a short-lived one is used. */
export async function deleteBenchKeys(redis: Redis | null, prefix: string): Promise<number> {
  const client = redis ?? new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  if (client.status === 'wait') await client.connect();
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length > 0) deleted += await client.unlink(...keys);
  } while (cursor !== '0');
  if (client !== redis) client.disconnect();
  return deleted;
}

// ---------------------------------------------------------------- cleanup and exit

/** Returns the bench's cleanup (idempotent) and runs it on SIGINT/SIGTERM too; as a last
 *  resort (process.exit elsewhere) children still alive are SIGKILLed: a bench must never
 *  leave a server running on a shared machine. `stopLoad` stops this process's own load
 *  (autocannon, sockets) first. */
export function installCleanup(o: { log: Log; prefix: string; redis: () => Redis | null; stopLoad: () => void }): () => Promise<void> {
  let cleanupPromise: Promise<void> | null = null;
  const cleanup = (): Promise<void> => {
    cleanupPromise ??= (async () => {
      o.stopLoad();
      await Promise.all(children.map((c) => stopChild(c).catch(() => {})));
      try {
        const n = await deleteBenchKeys(o.redis(), o.prefix);
        o.log(`deleted ${n} Redis key(s) under ${o.prefix}:`);
      } catch (err) {
        o.log(`could not delete the keys under ${o.prefix}: (${(err as Error).message}); delete them by hand`);
      }
      o.redis()?.disconnect();
    })();
    return cleanupPromise;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      o.log(`${signal}: stopping`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  process.on('exit', () => {
    for (const c of children) if (c.alive) c.proc.kill('SIGKILL');
  });
  return cleanup;
}

/** Runs `main`, shows the children's last output when it throws, always cleans up, and
 *  exits with main's code (1 on a throw). */
export async function runBench(tag: string, main: () => Promise<number>, cleanup: () => Promise<void>): Promise<never> {
  let exitCode = 1;
  try {
    exitCode = await main();
  } catch (err) {
    process.stderr.write(`[${tag}] failed: ${(err as Error).stack ?? String(err)}\n`);
    for (const c of children) {
      if (c.tail.length > 0) process.stderr.write(`[${tag}] last output of ${c.name}:\n  ${c.tail.join('\n  ')}\n`);
    }
  } finally {
    await cleanup();
  }
  process.exit(exitCode);
}

/** Before anything is measured: the load average (how busy the shared machine was), an
 *  up-to-date dist/, and the bench's Redis client. `onRedis` gets the client before it
 *  connects, so that cleanup can close it even when connecting fails. */
export async function prepareBench(build: boolean, log: Log, onRedis: (redis: Redis) => void) {
  const start = benchStart();
  ensureBuilt(build, log);
  const redis = createRedis();
  onRedis(redis);
  await redis.connect();
  return { start, redisVersion: await redisServerVersion(redis) };
}

// ---------------------------------------------------------------- report

export function gitRevision(): string | null {
  const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (rev.status !== 0) return null;
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' });
  return rev.stdout.trim() + (dirty.stdout.trim() ? '+dirty-src' : '');
}

/** Taken before anything runs: the load average then says how busy the shared machine was. */
export function benchStart() {
  return { started: new Date(), loadBefore: os.loadavg().map(r2) };
}

/** What the figures depend on, for the header line and the JSON line. */
export function benchEnv(start: ReturnType<typeof benchStart>, redisVersion: string) {
  const cpus = os.cpus();
  return {
    date: start.started.toISOString(),
    node: process.version,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? '?',
    loadAvgBefore: start.loadBefore,
    redis: redisVersion,
    git: gitRevision(),
  };
}

/** The report's first lines: what ran, on what, and with which settings. */
export function reportHeader(title: string, env: ReturnType<typeof benchEnv>, settings: string): string[] {
  return [
    '',
    `minutegate ${title} — ${env.date}`,
    `node ${env.node}, ${env.cpus} CPU(s) (${env.cpuModel}), redis ${env.redis}, load avg before ${env.loadAvgBefore.join(' ')}${env.git ? `, git ${env.git}` : ''}`,
    settings,
    '',
  ];
}

/** A CPU share cell: '-' where /proc (or Redis INFO) gave nothing. */
export const pctCell = (x: number | null) => (x === null ? '-' : String(x));

/** Header, dashes and rows, columns two spaces apart and padded to their widest cell;
 *  `rightAligned(i)` says which columns are numbers. */
export function formatTable(head: string[], rows: string[][], rightAligned: (col: number) => boolean, trimEnd = false): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((t) => t[i]!.length)));
  const line = (cells: string[]) => {
    const s = cells.map((c, i) => (rightAligned(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
    return trimEnd ? s.trimEnd() : s;
  };
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}
