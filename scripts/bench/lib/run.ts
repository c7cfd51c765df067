// A bench's life cycle: prepare (load average, dist/, Redis), run, always clean up.
import type { Redis } from 'ioredis';
import { createBenchDatabase, dropBenchDatabase } from './books-db.js';
import { ensureBuilt } from './build.js';
import { children, stopChild } from './processes.js';
import { createRedis, deleteBenchKeys, redisServerVersion } from './redis.js';
import { benchStart } from './report.js';
import type { Log } from './util.js';

/** Returns the bench's cleanup (idempotent) and runs it on SIGINT/SIGTERM too; as a last
 *  resort (process.exit elsewhere) children still alive are SIGKILLed: a bench must never
 *  leave a server running on a shared machine. `stopLoad` stops this process's own load
 *  (autocannon, sockets) first. */
export function installCleanup(o: { log: Log; prefix: string; database: string; redis: () => Redis | null; stopLoad: () => void }): () => Promise<void> {
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
      await dropBenchDatabase(o.database).then(
        () => o.log(`dropped the database ${o.database}`),
        (err: unknown) => o.log(`could not drop the database ${o.database}: (${(err as Error).message}); drop it by hand`),
      );
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
export async function prepareBench(build: boolean, log: Log, onRedis: (redis: Redis) => void, database: string) {
  const start = benchStart();
  ensureBuilt(build, log);
  await createBenchDatabase(database);
  log(`created the database ${database} (the books)`);
  const redis = createRedis();
  onRedis(redis);
  await redis.connect();
  return { start, redisVersion: await redisServerVersion(redis) };
}
