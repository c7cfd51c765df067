// Spawning one throwaway `redis-server` process for the tests, with leak protection in
// layers (see redis-server.ts): a registry killed on exit, and a watchdog per server.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisCommand, pingRedis } from './redis-command.js';

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
  /** SIGTERM, then SIGKILL after a grace period; resolves once the process has exited.
   *  `'SIGKILL'`: at once, a crash (no shutdown of any kind). */
  kill(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
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
    async kill(signal = 'SIGTERM') {
      if (exited) return;
      child.ref(); // keep the event loop alive until the exit is observed
      try {
        child.kill(signal);
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

