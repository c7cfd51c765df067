/**
 * Private, throwaway `redis-server` processes for tests (e.g. to simulate Redis
 * outages without touching the shared instance on :6379).
 *
 *   const srv = await startRedisServer();
 *   const redis = new Redis(srv.url);
 *   await srv.stop();   // outage: the process is gone, the port refuses connections
 *   await srv.start();  // back again, same port, empty dataset
 *   await srv.kill();   // a crash: SIGKILL, every key gone (then start() again)
 *   await srv.stop();   // always stop in afterAll
 *
 * Leak protection, in layers (redis-process.ts):
 *   - stop() kills the process and waits for it to exit;
 *   - a process 'exit' hook SIGKILLs anything still running (and removes temp dirs);
 *   - each redis-server gets a tiny `sh` watchdog reading a pipe from this process:
 *     if this process dies in any way (even SIGKILL, e.g. a timed-out test worker),
 *     the pipe closes and the watchdog SIGKILLs its redis-server.
 *
 * The lower-level helpers (`launchRedis`, `pickFreePort`, `redisCommand`, …) live in
 * redis-process.ts, free-port.ts and redis-command.ts; they are re-exported here for
 * `redis-cluster.ts`, `tls-redis.ts`, `global-redis.ts` and the tests that import them
 * from this module.
 */
import { pickFreePort } from './free-port.js';
import { RedisLaunchError, launchRedis, makeTempDir, removeTempDir, type RedisProcess } from './redis-process.js';

export { pickFreePort, type PickPortOptions } from './free-port.js';
export { pingRedis, redisCommand } from './redis-command.js';
export { RedisLaunchError, launchRedis, makeTempDir, removeTempDir, type RedisProcess } from './redis-process.js';

const HOST = '127.0.0.1';

export interface RedisServerHandle {
  /** TCP port on 127.0.0.1; stays the same across stop()/start(). */
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** Kill the server and wait for the process to exit. No-op if already stopped. */
  stop(): Promise<void>;
  /** SIGKILL the server (a crash: no shutdown, no save) and wait for it to exit. */
  kill(): Promise<void>;
  /** (Re)start on the same port after stop() or kill(), with an empty dataset. No-op if running. */
  start(): Promise<void>;
}

export interface StartRedisServerOptions {
  /** Fixed port; by default a free one is picked (and retried on a bind race). */
  port?: number;
}


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

  const stopNow = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') => {
    const p = proc;
    proc = undefined;
    if (p) await p.kill(signal);
    if (dir) {
      removeTempDir(dir);
      dir = undefined;
    }
  };

  return {
    port,
    url: `redis://${HOST}:${port}`,
    stop: () => serialized(() => stopNow()),
    kill: () => serialized(() => stopNow('SIGKILL')),
    start: () =>
      serialized(async () => {
        if (proc?.running) return;
        await stopNow(); // tidy up after an unexpected exit
        await launchOnce();
      }),
  };
}
