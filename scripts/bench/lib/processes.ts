/**
 * Child processes of a bench (gateway, bare ceiling, private Redis, fan-out clients).
 * One bench runs per process, so the registry of children is module state: every exit
 * path (normal, error, Ctrl-C, process.exit) must find all of them to stop them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT, sleep, type Log } from './util.js';

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
export function spawnNode(args: string[], env: Record<string, string>, o: { raiseFileLimit?: boolean; ipc?: boolean; wrap?: string[] } = {}): ChildProcess {
  // BENCH_CPU_PROF=<dir>: every spawned process writes a V8 CPU profile there on exit.
  const profDir = process.env.BENCH_CPU_PROF;
  if (profDir) args = ['--cpu-prof', `--cpu-prof-dir=${profDir}`, ...args];
  // BENCH_NODE_ARGS="--trace-gc …": more node flags for every spawned process (with
  // BENCH_CHILD_OUT=<dir> to keep what they print).
  const extra = process.env.BENCH_NODE_ARGS?.trim();
  if (extra) args = [...extra.split(/\s+/), ...args];
  const stdio: ('ignore' | 'pipe' | 'ipc')[] = o.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'];
  // `wrap`: a command node runs under (valgrind …); it keeps node's pid, as exec does.
  if (o.wrap) return spawn(o.wrap[0]!, [...o.wrap.slice(1), process.execPath, ...args], { cwd: ROOT, env, stdio });
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
  // BENCH_CHILD_OUT=<dir>: everything the child prints, in <dir>/<name>-<pid>.log.
  const outDir = process.env.BENCH_CHILD_OUT;
  const outFile = outDir ? join(outDir, `${name.replace(/[^\w.-]+/g, '_')}-${proc.pid}.log`) : null;
  if (outDir) mkdirSync(outDir, { recursive: true });
  const onData = (buf: Buffer) => {
    if (outFile) appendFileSync(outFile, buf);
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

/** Starts a server script on a free port and waits (≤ 20 s, or `readyWithinMs`) until
 *  `readyPath` answers 2xx. */
export async function startServer(o: {
  name: string;
  script: string;
  env: Record<string, string>;
  readyPath: string;
  log: Log;
  raiseFileLimit?: boolean;
  wrap?: string[];
  readyWithinMs?: number;
}): Promise<Child> {
  const port = await freePort();
  const env = { PATH: process.env.PATH ?? '', PORT: String(port), ...o.env };
  const proc = spawnNode([o.script], env, { raiseFileLimit: o.raiseFileLimit, wrap: o.wrap });
  const child = trackChild(o.name, proc, port);
  const within = o.readyWithinMs ?? 20_000;
  const deadline = Date.now() + within;
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
  throw new Error(`${child.name} did not become ready${child.alive ? ` within ${within / 1000} s` : ` (exit code ${proc.exitCode})`}:\n  ${child.tail.join('\n  ')}`);
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

/** The open-files limits this process (and so its children) starts with. */
export function fileLimits(): { soft: number; hard: number } {
  const q = (flag: string) => {
    const r = spawnSync('/bin/sh', ['-c', `ulimit ${flag}`], { encoding: 'utf8' });
    const s = r.stdout?.trim();
    return s === 'unlimited' ? Infinity : Number(s) || 1024;
  };
  return { soft: q('-Sn'), hard: q('-Hn') };
}

/**
 * A private redis-server for the cost phases: INFO commandstats and INFO cpu of a Redis
 * that serves the bench's gateway alone (the shared one serves other work too). No
 * persistence; it dies with the bench (cleanup, exit hook). Null when `redis-server` is
 * not installed.
 */
export async function startPrivateRedis(log: Log): Promise<Child | null> {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) return null;
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', '/tmp'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const child = trackChild('private redis-server', proc, port);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && child.alive) {
    if (child.tail.some((l) => /Ready to accept connections/.test(l))) {
      log(`private redis-server ready on port ${port} (pid ${proc.pid})`);
      return child;
    }
    await sleep(50);
  }
  throw new Error(`the private redis-server did not start:\n  ${child.tail.join('\n  ')}`);
}
