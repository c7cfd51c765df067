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

/** The same question for the books (R19): did this fail because PostgreSQL is away (down,
 *  restarting, refusing connections, the connection lost mid-query)? Then a write that
 *  must be committed first answers 503 STORE_UNAVAILABLE and changes nothing. */
export function isPostgresUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (/^(08|57P0)/.test(code) || code === '53300' || code === '3D000' || /^E(CONNREFUSED|CONNRESET|PIPE|TIMEDOUT|HOSTUNREACH|NOTFOUND)$/.test(code))) {
    return true;
  }
  return /Connection terminated|timeout exceeded when trying to connect|not queryable|Query read timeout|connect ECONNREFUSED|Cannot use a pool after calling end/.test(err.message);
}
