/**
 * Private, throwaway `redis-server` processes for tests (e.g. to simulate Redis
 * outages without touching the shared instance on :6379).
 *
 *   const srv = await startRedisServer();
 *   const redis = new Redis(srv.url);
 *   await srv.stop();   // outage: the process is gone, the port refuses connections
 *   await srv.start();  // back again, same port, empty dataset
 *   await srv.stop();   // always stop in afterAll
 *
 * Leak protection, in layers:
 *   - stop() kills the process and waits for it to exit;
 *   - a process 'exit' hook SIGKILLs anything still running (and removes temp dirs);
 *   - each redis-server gets a tiny `sh` watchdog reading a pipe from this process:
 *     if this process dies in any way (even SIGKILL, e.g. a timed-out test worker),
 *     the pipe closes and the watchdog SIGKILLs its redis-server.
 *
 * The lower-level helpers (`launchRedis`, `pickFreePort`, `redisCommand`) are
 * exported for `redis-cluster.ts`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServerHandle {
  /** TCP port on 127.0.0.1; stays the same across stop()/start(). */
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** Kill the server and wait for the process to exit. No-op if already stopped. */
  stop(): Promise<void>;
  /** (Re)start on the same port after stop(), with an empty dataset. No-op if running. */
  start(): Promise<void>;
}

export interface StartRedisServerOptions {
  /** Fixed port; by default a free one is picked (and retried on a bind race). */
  port?: number;
}

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 3_000;

// ---------------------------------------------------------------------------
// Process-wide cleanup registry
// ---------------------------------------------------------------------------

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
    liveChildren.clear();
    for (const dir of liveDirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    }
    liveDirs.clear();
  });
}

function track(child: ChildProcess): void {
  installExitHook();
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

/** Create a temp dir that is removed on process exit unless removed earlier with `removeTempDir`. */
export function makeTempDir(prefix: string): string {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  liveDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  liveDirs.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: HOST, exclusive: true }, () => {
      srv.close(() => resolve(true));
    });
  });
}

function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ port: 0, host: HOST, exclusive: true }, () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('could not determine a free port'));
      });
    });
  });
}

export interface PickPortOptions {
  /** Inclusive lower bound of the random range. */
  min?: number;
  /** Exclusive upper bound of the random range. */
  max?: number;
  /** Further offsets that must also be bindable (e.g. `[10000]` for the cluster bus port). */
  alsoFree?: readonly number[];
  /** Ports to skip (already chosen by the caller). */
  exclude?: ReadonlySet<number>;
}

/**
 * Pick a port that is currently bindable on 127.0.0.1 (together with `port + offset`
 * for every `alsoFree` offset). Random ports are taken below the kernel's ephemeral
 * range by default, so an outgoing connection cannot grab the port while a server is
 * stopped for an outage test. Falls back to an OS-assigned port when no offsets are
 * required. There is an inherent race until the server binds: callers retry on
 * EADDRINUSE.
 */
export async function pickFreePort(opts: PickPortOptions = {}): Promise<number> {
  const min = opts.min ?? 20_000;
  const max = opts.max ?? 32_000;
  const offsets = opts.alsoFree ?? [];
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = min + Math.floor(Math.random() * (max - min));
    if (opts.exclude?.has(port)) continue;
    if (offsets.some((o) => port + o > 65_535 || opts.exclude?.has(port + o))) continue;
    if (!(await canBind(port))) continue;
    let ok = true;
    for (const o of offsets) {
      if (!(await canBind(port + o))) {
        ok = false;
        break;
      }
    }
    if (ok) return port;
  }
  if (offsets.length === 0) return ephemeralPort();
  throw new Error(`no free port found in [${min}, ${max})`);
}

// ---------------------------------------------------------------------------
// Minimal RESP client (avoids spawning redis-cli in polling loops)
// ---------------------------------------------------------------------------

function encodeCommand(args: readonly string[]): string {
  let out = `*${args.length}\r\n`;
  for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return out;
}

/** Try to parse one simple/error/integer/bulk reply; undefined if incomplete. */
function parseReply(buf: Buffer): { value: string | null; error: boolean } | undefined {
  const eol = buf.indexOf('\r\n');
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[0] ?? 0);
  const head = buf.subarray(1, eol).toString();
  switch (type) {
    case '+':
    case ':':
      return { value: head, error: false };
    case '-':
      return { value: head, error: true };
    case '$': {
      const len = Number(head);
      if (len < 0) return { value: null, error: false };
      if (buf.length < eol + 2 + len + 2) return undefined;
      return { value: buf.subarray(eol + 2, eol + 2 + len).toString(), error: false };
    }
    default:
      // Arrays etc. are not needed by these helpers; hand back the raw text.
      return { value: buf.toString(), error: false };
  }
}

/**
 * Send a single command to 127.0.0.1:port over a fresh connection and return the
 * reply as a string (simple, integer and bulk replies). Rejects on connection
 * errors, timeouts and Redis error replies.
 */
export function redisCommand(port: number, args: readonly string[], timeoutMs = 1_000): Promise<string | null> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let settled = false;
    const sock: Socket = createConnection({ host: HOST, port });
    const finish = (err: Error | null, value?: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value ?? null);
    };
    const timer = setTimeout(() => finish(new Error(`redis ${HOST}:${port} ${args[0]} timed out`)), timeoutMs);
    sock.once('connect', () => sock.write(encodeCommand(args)));
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const reply = parseReply(buf);
      if (!reply) return;
      if (reply.error) finish(new Error(`redis ${HOST}:${port} ${args[0]}: ${reply.value}`));
      else finish(null, reply.value);
    });
    sock.once('error', (err) => finish(err));
    sock.once('close', () => finish(new Error(`redis ${HOST}:${port} closed the connection`)));
  });
}

export async function pingRedis(port: number, timeoutMs = 500): Promise<boolean> {
  try {
    return (await redisCommand(port, ['PING'], timeoutMs)) === 'PONG';
  } catch {
    return false;
  }
}

/**
 * PING answered by the process we spawned? (Another server already listening on the
 * port would answer too, while ours fails to bind and exits.)
 */
async function isOurServer(port: number, pid: number | undefined): Promise<boolean> {
  if (!(await pingRedis(port, 300))) return false;
  try {
    const info = (await redisCommand(port, ['INFO', 'server'], 500)) ?? '';
    return new RegExp(`^process_id:${pid}\\r?$`, 'm').test(info);
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// Launching redis-server
// ---------------------------------------------------------------------------

export class RedisLaunchError extends Error {
  constructor(
    message: string,
    /** True when the server could not bind its port(s): retry with another port. */
    readonly addressInUse: boolean,
  ) {
    super(message);
    this.name = 'RedisLaunchError';
  }
}

export interface RedisProcess {
  readonly port: number;
  readonly pid: number;
  /** True until the process has exited. */
  readonly running: boolean;
  /** SIGTERM, then SIGKILL after a grace period; resolves once the process has exited. */
  kill(): Promise<void>;
}

function readTail(file: string, max = 4_000): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text.length > max ? text.slice(-max) : text;
  } catch {
    return '';
  }
}

/**
 * Spawn `redis-server --port <port> --bind 127.0.0.1 --dir <dir> ...extraArgs` with no
 * persistence, log to `<dir>/redis-<port>.log`, and wait until it answers PING.
 * `dir` must be a throwaway temp dir: it is deleted if this process dies abruptly.
 * Rejects with RedisLaunchError if it exits early or does not come up in time.
 */
export async function launchRedis(opts: {
  port: number;
  dir: string;
  extraArgs?: readonly string[];
}): Promise<RedisProcess> {
  const { port, dir } = opts;
  const logFile = join(dir, `redis-${port}.log`);
  const args = [
    '--port', String(port),
    '--bind', HOST,
    '--dir', dir,
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--logfile', logFile,
    ...(opts.extraArgs ?? []),
  ];

  const child = spawn('redis-server', args, { stdio: 'ignore' });
  track(child);
  // Let a test process exit even if someone forgot stop(): the 'exit' hook kills it.
  child.unref();

  let exited = false;
  let exitCode: number | null = null;
  let exitSignal: NodeJS.Signals | null = null;
  let spawnError: Error | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      exitCode = code;
      exitSignal = signal;
      resolve();
    });
    child.once('error', (err) => {
      spawnError = err;
      // 'exit' is not emitted when the spawn itself failed.
      if (child.pid === undefined) {
        exited = true;
        resolve();
      }
    });
  });

  // Watchdog: SIGKILLs redis (and removes `dir`) as soon as our end of its stdin pipe
  // closes, i.e. when this process dies, however it dies. Killed by us on a normal stop.
  let watchdog: ChildProcess | undefined;
  if (child.pid !== undefined) {
    watchdog = spawn('sh', ['-c', 'read -r _; kill -KILL "$1" 2>/dev/null; rm -rf "$2"', 'minutegate-redis-watchdog', String(child.pid), dir], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    track(watchdog);
    watchdog.on('error', () => {
      /* best-effort protection only */
    });
    watchdog.stdin?.on('error', () => {
      /* EPIPE if it already died */
    });
    watchdog.unref();
    (watchdog.stdin as unknown as Socket | null)?.unref?.();
    const wd = watchdog;
    void exitPromise.then(() => {
      if (wd.exitCode === null && wd.signalCode === null) wd.kill('SIGKILL');
    });
  }

  const describeExit = () => {
    const log = readTail(logFile);
    const how = spawnError
      ? `failed to spawn: ${spawnError.message}`
      : `exited early (code ${exitCode}, signal ${exitSignal})`;
    return { msg: `redis-server on port ${port} ${how}\n${log}`, inUse: /address already in use|could not create server tcp listening socket|EADDRINUSE/i.test(log) };
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  let delay = 10;
  for (;;) {
    if (exited) {
      const { msg, inUse } = describeExit();
      throw new RedisLaunchError(msg, inUse);
    }
    if (await isOurServer(port, child.pid)) break;
    if (exited) continue; // report the real reason
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exitPromise;
      throw new RedisLaunchError(
        `redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms\n${readTail(logFile)}`,
        false,
      );
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
  }

  return {
    port,
    pid: child.pid as number,
    get running() {
      return !exited;
    },
    async kill() {
      if (exited) return;
      child.ref(); // keep the event loop alive until the exit is observed
      try {
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          if (!exited) child.kill('SIGKILL');
        }, STOP_GRACE_MS);
        await exitPromise;
        clearTimeout(timer);
      } finally {
        child.unref();
      }
    },
  };
}

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/**
 * Start a private `redis-server` on 127.0.0.1 (no persistence, temp --dir).
 * Resolves once it answers PING. Always call `stop()` (e.g. in afterAll).
 */
export async function startRedisServer(opts: StartRedisServerOptions = {}): Promise<RedisServerHandle> {
  const fixedPort = opts.port;
  let port = fixedPort ?? (await pickFreePort());
  let proc: RedisProcess | undefined;
  let dir: string | undefined;

  const launchOnce = async (): Promise<void> => {
    const d = makeTempDir('minutegate-redis-');
    try {
      proc = await launchRedis({ port, dir: d });
      dir = d;
    } catch (err) {
      removeTempDir(d);
      throw err;
    }
  };

  // First start: when we picked the port ourselves, retry on a bind race.
  for (let attempt = 1; ; attempt++) {
    try {
      await launchOnce();
      break;
    } catch (err) {
      const retryable = fixedPort === undefined && err instanceof RedisLaunchError && err.addressInUse && attempt < 5;
      if (!retryable) throw err;
      port = await pickFreePort();
    }
  }

  // Serialize start/stop calls.
  let queue: Promise<unknown> = Promise.resolve();
  const serialized = (fn: () => Promise<void>): Promise<void> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };

  const stopNow = async () => {
    const p = proc;
    proc = undefined;
    if (p) await p.kill();
    if (dir) {
      removeTempDir(dir);
      dir = undefined;
    }
  };

  return {
    port,
    url: `redis://${HOST}:${port}`,
    stop: () => serialized(stopNow),
    start: () =>
      serialized(async () => {
        if (proc?.running) return;
        await stopNow(); // tidy up after an unexpected exit
        await launchOnce();
      }),
  };
}
