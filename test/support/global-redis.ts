// Vitest global setup: `npm test` needs nothing running. When no Redis answers on the
// suite's URL (TEST_REDIS_URL or 127.0.0.1:6379) a private `redis-server` is started on
// that port for the run and stopped at the end. A server that already answers is used as
// it is and never stopped or flushed (tests delete only their own key prefixes).
import { launchRedis, makeTempDir, pingRedis, removeTempDir, type RedisProcess } from './redis-server.js';
import { TEST_REDIS_URL } from './redis-url.js';

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export default function setup(): Promise<() => Promise<void>> {
  return ensureRedis(TEST_REDIS_URL);
}

/** Makes sure a Redis answers on `redisUrl`; resolves to the matching teardown. */
export async function ensureRedis(redisUrl: string): Promise<() => Promise<void>> {
  const url = new URL(redisUrl);
  const port = Number(url.port || 6379);
  if (!LOCAL_HOSTS.has(url.hostname)) return async () => {};
  if (await pingRedis(port)) {
    process.stderr.write(`[global-redis] using the Redis already answering on 127.0.0.1:${port}\n`);
    return async () => {};
  }
  const dir = makeTempDir('minutegate-test-redis-');
  let proc: RedisProcess;
  try {
    proc = await launchRedis({ port, dir });
  } catch (err) {
    removeTempDir(dir);
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(
      `No Redis answers on 127.0.0.1:${port} and a private redis-server could not be started ` +
        `(install it with \`apt-get install redis-server\`): ${why}`,
    );
  }
  process.stderr.write(`[global-redis] started a private redis-server (pid ${proc.pid}) on 127.0.0.1:${port}\n`);
  return async () => {
    await proc.kill();
    removeTempDir(dir);
    process.stderr.write(`[global-redis] stopped the private redis-server on 127.0.0.1:${port}\n`);
  };
}
