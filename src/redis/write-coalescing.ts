// The commands a connection sends in one turn of the event loop go to Redis as one write.
//
// A webhook or a socket authorization sends one FCALL. Under load, dozens of them are
// sent in the same turn of the event loop (one per request read in that turn), and written
// one by one they cost the gateway a `write` system call each, and Redis a read and a
// reply write each. ioredis's auto-pipelining batches them too, but keeps one batch in
// flight per connection: the next waits until Redis has answered all of the last, so the
// gateway and Redis take turns (BENCHMARKS.md, session 21). Here the socket is corked at the
// first write of a turn and uncorked when the turn ends (setImmediate: after the I/O
// callbacks of this turn), so the turn's commands leave in one `writev`, and any number of
// such batches may be in flight. A command waits at most for the rest of its turn.
//
// ioredis has no hook for this, so the connection's own socket gets a `write` that corks
// first; it is set again on each new socket (a reconnection makes one).
import { Cluster, type Redis } from 'ioredis';

interface Corkable {
  write: (...args: never[]) => boolean;
  cork(): void;
  uncork(): void;
  writableCorked: number;
}

/** The clients and sockets already set up: each once, however often it is met. */
const coalescing = new WeakSet<object>();

/** Coalesces each turn's writes on this client's connections: a standalone client's, and
 *  every node's of a Cluster (as the Cluster connects to them). */
export function coalesceWrites(client: Redis | Cluster): void {
  if (client instanceof Cluster) {
    client.on('+node', (node: Redis) => coalesceWrites(node));
    for (const node of client.nodes('all')) coalesceWrites(node);
    return;
  }
  const redis = client;
  if (coalescing.has(redis)) return;
  coalescing.add(redis);
  // 'connect' comes with each new socket, before the gateway's first command on it (ioredis's
  // own connection set-up may go first, written as it comes).
  redis.on('connect', () => corkEachTurn(redis.stream as unknown as Corkable));
  if (redis.stream) corkEachTurn(redis.stream as unknown as Corkable);
}

/** Replaces this socket's `write` with one that corks it until the end of the turn. */
export function corkEachTurn(socket: Corkable): void {
  if (coalescing.has(socket)) return;
  coalescing.add(socket);
  const write = socket.write;
  let held = false;
  const release = () => {
    held = false;
    // Our one cork only: a cork someone else holds stays theirs.
    if (socket.writableCorked > 0) socket.uncork();
  };
  socket.write = function (this: Corkable, ...args: never[]): boolean {
    if (!held) {
      held = true;
      socket.cork();
      setImmediate(release);
    }
    return write.apply(this, args);
  } as Corkable['write'];
}
