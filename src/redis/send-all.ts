// Many independent commands at once, for the stores' bulk work (the archive's expiries, the
// sweep's marks). On one server they go as one pipeline: one write and one read for a few
// hundred commands. (Since session 22 the client writes each turn's commands together
// anyway, write-coalescing.ts; the pipeline, measured before that in BENCHMARKS.md's
// session 21, stays.) A Cluster's pipeline must stay on one node and these keys lie in
// many slots, so there each goes on its own, all in flight together, and each node's
// share leaves in one write.
import { Cluster, type Redis } from 'ioredis';

/** Sends `commands` ([name, ...args]) together; their replies in order. A command's error
 *  is thrown. */
export async function sendAll(redis: Redis | Cluster, commands: [string, ...(string | number)[]][]): Promise<unknown[]> {
  if (commands.length === 0) return [];
  if (redis instanceof Cluster) return Promise.all(commands.map(([name, ...args]) => redis.call(name, ...args)));
  const results = (await redis.pipeline(commands).exec()) ?? [];
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}
