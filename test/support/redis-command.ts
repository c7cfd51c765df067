// One-shot Redis commands over ioredis for the test helpers' polling loops (is it up? is
// it ours? is the cluster formed?): a fresh connection per command that never retries and
// never queues, so a dead or refusing server shows up at once as a rejection.
import { Redis } from 'ioredis';

const HOST = '127.0.0.1';

/**
 * Send a single command to 127.0.0.1:port over a fresh connection and return the reply
 * as a string (simple, integer and bulk replies; array elements one per line). Rejects on
 * connection errors, timeouts and Redis error replies.
 */
export async function redisCommand(port: number, args: readonly string[], timeoutMs = 1_000): Promise<string | null> {
  const [name, ...rest] = args;
  if (name === undefined) throw new Error('redisCommand: no command given');
  const client = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    // Exactly the one command: no INFO ready check (it would fail first on a server that
    // requires a password), no reconnection, no offline queue.
    enableReadyCheck: false,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
  });
  client.on('error', () => {
    /* surfaced through the rejected promise */
  });
  try {
    await client.connect();
    const reply: unknown = await client.call(name, ...rest);
    return toText(reply);
  } catch (err) {
    throw new Error(`redis ${HOST}:${port} ${name}: ${(err as Error).message}`);
  } finally {
    client.disconnect();
  }
}

function toText(reply: unknown): string | null {
  if (reply === null || reply === undefined) return null;
  if (Array.isArray(reply)) return reply.map((r) => toText(r) ?? '').join('\n');
  if (Buffer.isBuffer(reply)) return reply.toString();
  return String(reply);
}

export async function pingRedis(port: number, timeoutMs = 500): Promise<boolean> {
  try {
    return (await redisCommand(port, ['PING'], timeoutMs)) === 'PONG';
  } catch {
    return false;
  }
}
