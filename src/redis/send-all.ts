// Many independent commands at once, for the stores' bulk work (the archive's expiries, the
// sweep's marks): all in flight together, and the client writes the commands of one
// event-loop turn to each server (each node of a Cluster) as one write
// (write-coalescing.ts), so a few hundred of them cost one write, not a few hundred. The
// keys lie in many slots, which a pipeline could not hold on a Cluster; they need none.
import type { Cluster, Redis } from 'ioredis';
import { command } from './command.js';

/** Sends `commands` ([name, ...args]) together; their replies in order. A command's error
 *  is thrown. */
export function sendAll(redis: Redis | Cluster, commands: [string, ...(string | number)[]][]): Promise<unknown[]> {
  return Promise.all(commands.map(([name, ...args]) => command(redis, name, args)));
}
