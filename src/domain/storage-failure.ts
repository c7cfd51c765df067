// R14's one question: did this fail because Redis could not store or serve it? Pure (it
// reads an error). Two kinds, both answered alike (503 STORE_UNAVAILABLE on the API,
// <Reject> on calls, an error to a signal, counted in minutegate_redis_errors_total):
//   - Redis is away: ioredis reports an unreachable, closed, timed-out or unready server
//     (standalone or cluster) through these messages;
//   - Redis is there but refuses to write (issue #16): out of memory under noeviction
//     ("OOM command not allowed"), unable to persist (MISCONF), a replica or a master
//     without its replicas (READONLY, NOREPLICAS, MASTERDOWN), a cluster slot in motion
//     (TRYAGAIN), or busy with a script past its time limit (BUSY). A script's error
//     carries the refusal inside its own message, so these are found anywhere in it.
// Every edge fails closed on any error it cannot name; this decides only what is counted
// and said as "storage unavailable".
const AWAY =
  /Connection is closed|enableOfflineQueue|Command timed out|ECONNREFUSED|ECONNRESET|ETIMEDOUT|Stream isn't writeable|MaxRetriesPerRequest|ClusterAllFailed|CLUSTERDOWN|LOADING|None of startup nodes is available|Failed to refresh slots cache/;
const REFUSES =
  /OOM command not allowed|\bMISCONF |\bREADONLY You can't write|\bNOREPLICAS |\bMASTERDOWN |\bTRYAGAIN |\bBUSY Redis is busy/;

export function isStorageFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return AWAY.test(err.message) || REFUSES.test(err.message);
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
