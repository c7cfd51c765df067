// R14's one question: did this fail because Redis is away? Pure (it reads an error). ioredis
// reports an unreachable, closed, timed-out or unready server (standalone or cluster)
// through these messages. Every
// edge fails closed on any error it cannot name; this decides only what is counted and
// said as "storage unavailable" (503 UNAVAILABLE, minutegate_redis_errors_total).
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return /Connection is closed|enableOfflineQueue|Command timed out|ECONNREFUSED|ECONNRESET|ETIMEDOUT|Stream isn't writeable|MaxRetriesPerRequest|ClusterAllFailed|CLUSTERDOWN|LOADING|None of startup nodes is available|Failed to refresh slots cache/.test(
    err.message,
  );
}
