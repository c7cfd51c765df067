import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerHandle } from './redis-server.js';

/** One-shot client that never retries, so a dead server shows up as a rejection. */
async function pingOnce(url: string): Promise<string> {
  const client = new Redis(url, {
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 1_000,
  });
  client.on('error', () => {
    /* surfaced through the rejected promise */
  });
  try {
    await client.connect();
    return await client.ping();
  } finally {
    client.disconnect();
  }
}

describe('startRedisServer', () => {
  let srv: RedisServerHandle | undefined;

  afterAll(async () => {
    await srv?.stop();
  });

  it('starts, stops (outage) and restarts on the same port', async () => {
    srv = await startRedisServer();
    expect(srv.port).toBeGreaterThan(0);
    expect(srv.url).toBe(`redis://127.0.0.1:${srv.port}`);
    expect(await pingOnce(srv.url)).toBe('PONG');

    // Data does not survive a restart (no persistence).
    const c = new Redis(srv.url, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
    c.on('error', () => {});
    await c.set('k', 'v');
    expect(await c.get('k')).toBe('v');

    await srv.stop();
    await expect(pingOnce(srv.url)).rejects.toThrow();
    c.disconnect();
    await srv.stop(); // idempotent

    const port = srv.port;
    await srv.start();
    expect(srv.port).toBe(port);
    expect(await pingOnce(srv.url)).toBe('PONG');

    const c2 = new Redis(srv.url, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
    c2.on('error', () => {});
    try {
      expect(await c2.get('k')).toBeNull();
    } finally {
      c2.disconnect();
    }
  });
});
