// Connects to Redis (standalone or Cluster) for a fail-closed gateway: commands never
// queue while Redis is away (they fail at once, R14), reconnection goes on forever, and
// start-up waits a bounded time before giving up with a message that says what to do.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { describeAuthFailure, isAuthError, tlsHint } from './auth-errors.js';
import { coalesceWrites } from './write-coalescing.js';

export interface RedisSettings {
  url: string;
  clusterNodes: { host: string; port: number }[] | null;
  connectTimeoutMs: number;
  /** ACL user / password (REDIS_USERNAME / REDIS_PASSWORD); they override the URL's. */
  username?: string | null;
  password?: string | null;
  /** TLS (rediss:// or REDIS_TLS=on), with an optional PEM CA bundle. */
  tls?: boolean;
  tlsCa?: string | null;
}

/** Credentials and TLS for every connection: commands, the bus subscriber, cluster nodes. */
export function connectionOptions(s: RedisSettings): Pick<RedisOptions, 'username' | 'password' | 'tls'> {
  return {
    ...(s.username ? { username: s.username } : {}),
    ...(s.password ? { password: s.password } : {}),
    ...(s.tls ? { tls: s.tlsCa ? { ca: s.tlsCa } : {} } : {}),
  };
}

/** The URL a standalone client connects to: REDIS_USERNAME / REDIS_PASSWORD, when set,
 *  replace credentials written in the URL (ioredis would let the URL's win). */
export function connectionUrl(s: RedisSettings): string {
  if (!s.username && !s.password) return s.url;
  const u = new URL(s.url);
  u.username = '';
  u.password = '';
  return u.toString();
}

// A hung (not disconnected) Redis must not hang webhooks past Twilio's 15 s cap. Long
// enough that a busy process reading replies late does not fail commands that ran.
const COMMAND_TIMEOUT_MS = 5_000;

// Not auto-pipelined: ioredis's auto-pipelining keeps one batch in flight per connection,
// so the gateway and Redis take turns instead of working side by side (BENCHMARKS.md,
// session 21: +7-15% requests/s without it). The commands of one event-loop turn still go
// to Redis as one write, with any number of such batches in flight (write-coalescing.ts;
// session 22: 5-49% less Redis CPU per webhook, 15-35% per authorization).
const AUTO_PIPELINING = false;

export function createRedis(s: RedisSettings, name = 'minutegate'): Redis | Cluster {
  const common: RedisOptions = {
    connectionName: name,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(50 * times, 1_000),
    enableAutoPipelining: AUTO_PIPELINING,
    ...connectionOptions(s),
  };
  if (s.clusterNodes) {
    const cluster = new Cluster(s.clusterNodes, {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: AUTO_PIPELINING,
      scaleReads: 'master',
      clusterRetryStrategy: (times) => Math.min(100 * times, 2_000),
      redisOptions: { ...common, lazyConnect: undefined, enableAutoPipelining: undefined },
    });
    coalesceWrites(cluster);
    return cluster;
  }
  const redis = new Redis(connectionUrl(s), common);
  coalesceWrites(redis);
  return redis;
}

/** Connects, retrying until `connectTimeoutMs`; rejects with an actionable message. */
export async function connectRedis(client: Redis | Cluster, s: RedisSettings): Promise<void> {
  const deadline = Date.now() + s.connectTimeoutMs;
  let lastError: unknown;
  // Errors while reconnecting are expected; they are reported by the caller, not thrown.
  // Refused credentials are not: retrying cannot help, so start-up stops at once.
  let authError: Error | null = null;
  // The emitted error says why (refused, TLS, DNS); connect() itself only "closed".
  let emitted: unknown;
  const onError = (e: unknown) => {
    // A cluster wraps the node's own error ("Failed to refresh slots cache").
    const err = (e as { lastNodeError?: unknown } | null)?.lastNodeError ?? e;
    if (isAuthError(err)) authError = err;
    else emitted = err;
  };
  client.on('error', onError);
  if (client instanceof Cluster) client.on('node error', onError);
  while (Date.now() < deadline && !authError) {
    try {
      if (client.status === 'wait' || client.status === 'end') await client.connect();
      else if (client.status !== 'ready') await new Promise((r) => setTimeout(r, 100));
      if (client.status === 'ready') {
        await client.ping();
        return;
      }
    } catch (err) {
      lastError = err;
      if (isAuthError(err)) authError = err;
      else await new Promise((r) => setTimeout(r, 250));
    }
  }
  client.disconnect();
  const where = s.clusterNodes
    ? `REDIS_CLUSTER_NODES=${s.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',')}`
    : `REDIS_URL=${redactUrl(s.url)}`;
  if (authError) throw new Error(describeAuthFailure(authError, s, where));
  const reason = emitted ?? lastError;
  const why = reason instanceof Error ? ` (${reason.message}${tlsHint(reason)})` : '';
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

/** For /readyz: the command connection is up and answers (R14 fails closed without it). */
export async function redisAnswers(client: Redis | Cluster): Promise<boolean> {
  return client.status === 'ready' && (await client.ping()) === 'PONG';
}
