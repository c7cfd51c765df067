// Connects to Redis (standalone or Cluster) for a fail-closed gateway: commands never
// queue while Redis is away (they fail at once, R14), reconnection goes on forever, and
// start-up waits a bounded time before giving up with a message that says what to do.
import { Cluster, Redis, type RedisOptions } from 'ioredis';

export interface RedisSettings {
  url: string;
  clusterNodes: { host: string; port: number }[] | null;
  connectTimeoutMs: number;
}

// A hung (not disconnected) Redis must not hang webhooks past Twilio's 15 s cap. Long
// enough that a busy process reading replies late does not fail commands that ran.
const COMMAND_TIMEOUT_MS = 5_000;

export function createRedis(s: RedisSettings, name = 'minutegate'): Redis | Cluster {
  const common: RedisOptions = {
    connectionName: name,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(50 * times, 1_000),
    enableAutoPipelining: true,
  };
  if (s.clusterNodes) {
    return new Cluster(s.clusterNodes, {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      scaleReads: 'master',
      clusterRetryStrategy: (times) => Math.min(100 * times, 2_000),
      redisOptions: { ...common, lazyConnect: undefined, enableAutoPipelining: undefined },
    });
  }
  return new Redis(s.url, common);
}

/** Connects, retrying until `connectTimeoutMs`; rejects with an actionable message. */
export async function connectRedis(client: Redis | Cluster, s: RedisSettings): Promise<void> {
  const deadline = Date.now() + s.connectTimeoutMs;
  let lastError: unknown;
  // Errors while reconnecting are expected; they are reported by the caller, not thrown.
  client.on('error', () => {});
  while (Date.now() < deadline) {
    try {
      if (client.status === 'wait' || client.status === 'end') await client.connect();
      else if (client.status !== 'ready') await new Promise((r) => setTimeout(r, 100));
      if (client.status === 'ready') {
        await client.ping();
        return;
      }
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  client.disconnect();
  const where = s.clusterNodes
    ? `REDIS_CLUSTER_NODES=${s.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',')}`
    : `REDIS_URL=${redactUrl(s.url)}`;
  const why = lastError instanceof Error ? ` (${lastError.message})` : '';
  throw new Error(
    `cannot reach Redis at ${where} after ${Math.round(s.connectTimeoutMs / 1000)}s${why}. ` +
      'Start one with `redis-server --daemonize yes` (or `docker compose up -d redis`), or point REDIS_URL at yours.',
  );
}

/** Never print a Redis password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}
