// How the process dies (issue #21), as an operator sees it: the real entry point in a child
// process. An exception nobody caught or a rejection nobody handled is one JSON line with
// the stack, then a non-zero exit (provoked from outside src by a preload, see
// fixtures/provoke-failure.mjs); a port already in use is one plain line naming the port,
// no stack, a non-zero exit.
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { ListenError } from '../src/http/listen-error.js';
import { startGateway } from '../src/gateway.js';
import { CRASH_EXIT_CODE } from '../src/process-failures.js';
import { connectRedis, createRedis } from '../src/redis/client.js';
import { deleteKeys, PUBLIC_BASE_URL, TEST_ADMIN_KEY, TEST_AUTH_TOKEN, TEST_STAFF_SECRET, uniquePrefix } from './support/gateway.js';
import { dropTestDatabase, testDatabaseUrl } from './support/postgres.js';
import { TEST_REDIS_URL } from './support/redis-url.js';
import { runEntry } from './support/run-main.js';

const PRELOAD = fileURLToPath(new URL('./fixtures/provoke-failure.mjs', import.meta.url));
const prefixes: string[] = [];

/** The environment of a production-like instance (no dev-mode banner) on its own prefix. */
function env(extra: Record<string, string>): Record<string, string> {
  const prefix = uniquePrefix('die');
  prefixes.push(prefix);
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: prefix,
    DATABASE_URL: testDatabaseUrl(prefix),
    TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    STAFF_TOKEN_SECRET: TEST_STAFF_SECRET,
    PUBLIC_BASE_URL,
    LOG_LEVEL: 'info',
    ...extra,
  };
}

afterAll(async () => {
  const redis = new Redis(TEST_REDIS_URL);
  for (const p of prefixes) {
    await deleteKeys(redis, p).catch(() => {});
    await dropTestDatabase(testDatabaseUrl(p)).catch(() => {});
  }
  redis.disconnect();
});

/** Every line the process printed, each parsed when it is JSON. */
const linesOf = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((text) => {
      try {
        return { text, json: JSON.parse(text) as Record<string, any> };
      } catch {
        return { text, json: null };
      }
    });

describe('a failure nobody handled', () => {
  const provoke = (kind: string) => runEntry('src/main.ts', [], env({ NODE_OPTIONS: `--import=${PRELOAD}`, PROVOKE_FAILURE: kind }), 50_000);

  it.concurrent.each([
    ['exception', 'uncaught exception: exiting', 'provoked by the test: thrown from a timer'],
    ['rejection', 'unhandled rejection: exiting', 'provoked by the test: rejected, never handled'],
  ])('an unhandled %s is one JSON line with its stack, then a non-zero exit', { timeout: 60_000 }, async (kind, msg, message) => {
    const r = await provoke(kind);
    expect(r.code, r.all).toBe(CRASH_EXIT_CODE);
    const lines = linesOf(r.all);
    // Exactly one line speaks of the failure, the JSON one with the stack, and it is the
    // last: the process went no further (the preload provoked it once the port was open).
    const about = lines.filter((l) => l.text.includes('provoked by the test'));
    expect(about, r.all).toHaveLength(1);
    expect(lines.at(-1)).toBe(about[0]);
    expect(about[0]!.json).toMatchObject({ level: 'error', msg, err: { type: 'Error', message } });
    expect(about[0]!.json!.err.stack).toMatch(/provoke-failure\.mjs:\d+/);
    // Node's own report (the source line and a caret, "Node.js v20…") never follows.
    expect(lines.every((l) => l.json !== null), r.all).toBe(true);
  });

  it.concurrent('a rejection with something that is not an Error is logged by its printed form', { timeout: 60_000 }, async () => {
    const r = await provoke('non-error');
    expect(r.code, r.all).toBe(CRASH_EXIT_CODE);
    const about = linesOf(r.all).filter((l) => l.text.includes('a plain object, no stack'));
    expect(about, r.all).toHaveLength(1);
    expect(about[0]!.json).toMatchObject({ level: 'error', msg: 'unhandled rejection: exiting', thrown: "{ provoked: 'a plain object, no stack' }" });
  });
});

describe('a port already in use', () => {
  const holdPort = () =>
    new Promise<Server>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => resolve(s));
    });

  it('exits 1 with one plain line naming the port and what to do, no stack', { timeout: 60_000 }, async () => {
    const holder = await holdPort();
    const port = (holder.address() as { port: number }).port;
    try {
      const r = await runEntry('src/main.ts', [], env({ PORT: String(port) }), 50_000);
      expect(r.code, r.all).toBe(1);
      const about = linesOf(r.all).filter((l) => l.text.includes(String(port)));
      expect(about, r.all).toHaveLength(1);
      expect(about[0]!.text).toBe(`minutegate: cannot listen: port ${port} on 127.0.0.1 is already in use: stop what listens there, or set PORT to another port`);
      expect(r.all).not.toMatch(/^\s+at /m);
      expect(r.all).not.toMatch(/EADDRINUSE|Error:/);
    } finally {
      holder.close();
    }
  });

  it('startGateway rejects with a ListenError and lets go of what it had started', async () => {
    const holder = await holdPort();
    const port = (holder.address() as { port: number }).port;
    const { REDIS_PREFIX, ...rest } = env({});
    const config = loadConfig({ ...rest, REDIS_PREFIX });
    const redis = createRedis(config.redis);
    await connectRedis(redis, config.redis);
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    const before = sockets();
    try {
      const started = startGateway({ config, redis, log: createLogger('silent') }, port, '127.0.0.1');
      await expect(started).rejects.toBeInstanceOf(ListenError);
      await expect(started).rejects.toMatchObject({ port, host: '127.0.0.1', message: expect.stringContaining('already in use') });
      // Its Redis subscribers and PostgreSQL connections are closed again.
      await expect.poll(sockets).toBe(before);
    } finally {
      redis.disconnect();
      holder.close();
    }
  });
});
