// Runs the real gateway in-process on a free port, against a real Redis, with a key
// prefix of its own, and offers the calls tests make: admin JSON requests and Twilio
// webhooks form-encoded and signed exactly as Twilio signs them.
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { afterEach } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { connectRedis, createRedis } from '../../src/redis/client.js';
import { startGateway, type RunningGateway } from '../../src/gateway.js';
import { dropTestDatabase, testDatabaseUrl } from './postgres.js';
import { TEST_REDIS_URL } from './redis-url.js';
import { signForm } from './twilio-sign.js';

export const TEST_AUTH_TOKEN = 'test-auth-token-0123456789abcdef';
export const TEST_ADMIN_KEY = 'test-admin-key-0123456789';
export const TEST_STAFF_SECRET = 'test-staff-secret-0123456789-0123456789';
export const PUBLIC_BASE_URL = 'https://gw.example.test';

export const uniquePrefix = (tag: string) => `mgt-${tag}-${randomBytes(4).toString('hex')}`;

export interface TestClock {
  now: number;
}

export interface TestGateway extends RunningGateway {
  config: Config;
  redis: Redis | Cluster;
  clock: TestClock;
  admin(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; json: any }>;
  as(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  twilio(path: string, params: Record<string, string>, opts?: { signature?: string; token?: string }): Promise<{ status: number; text: string }>;
  stop(): Promise<void>;
}

export interface StartOptions {
  prefix?: string;
  env?: Record<string, string>;
  redisUrl?: string;
  clusterNodes?: { host: string; port: number }[];
  /** A fixed clock the test moves by hand; default: real time. */
  clock?: TestClock;
  /** Share a Redis client (and prefix) with another instance; default: a new connection. */
  redis?: Redis | Cluster;
  /** Leave the run's keys behind on stop (another instance still uses them). */
  keepKeys?: boolean;
  /** Receives every log line of the gateway (at debug level); default: its error lines go
   *  to stderr (a 500 or a failed job in a run says why). */
  log?: (line: string) => void;
  /** Listen on this port (a restarted instance keeps its address); default: any free one. */
  port?: number;
  /** The demo's fake Twilio, as `npm run demo` passes it (GatewayDeps.demoTwilioUrl). */
  demoTwilioUrl?: string;
}

/** Removes a run's keys (its prefix only: the shared server is never flushed). */
export async function deleteKeys(redis: Redis | Cluster, prefix: string): Promise<void> {
  const nodes = 'nodes' in redis && typeof redis.nodes === 'function' ? redis.nodes('master') : [redis as Redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) await node.unlink(k);
    } while (cursor !== '0');
  }
}

export async function startTestGateway(opts: StartOptions = {}): Promise<TestGateway> {
  const prefix = opts.prefix ?? uniquePrefix('gw');
  const config = loadConfig({
    REDIS_PREFIX: prefix,
    REDIS_URL: opts.redisUrl ?? TEST_REDIS_URL,
    ...(opts.clusterNodes ? { REDIS_CLUSTER_NODES: opts.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',') } : {}),
    TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    STAFF_TOKEN_SECRET: TEST_STAFF_SECRET,
    PUBLIC_BASE_URL,
    LOG_LEVEL: 'silent',
    // The prefix's own database, created by the gateway at start-up (not production).
    DATABASE_URL: testDatabaseUrl(prefix),
    // Stop at once: the 1 s grace for idle keep-alive connections is production's (a
    // request may be on its way); a test that checks the drain sets its own.
    SHUTDOWN_IDLE_GRACE_MS: '0',
    ...opts.env,
  });
  const ownsRedis = !opts.redis;
  const redis = opts.redis ?? createRedis(config.redis);
  if (ownsRedis) await connectRedis(redis, config.redis);
  const clock = opts.clock ?? null;
  const gw = await startGateway(
    { config, redis, log: opts.log ? createLogger('debug', opts.log) : createLogger('error', (line) => process.stderr.write(`[gateway ${prefix}] ${line}`)), clock: clock ? () => clock.now : Date.now, demoTwilioUrl: opts.demoTwilioUrl },
    opts.port ?? 0,
    '127.0.0.1',
  );
  // Background jobs (reset scheduler, receipt mailer) run on the injected clock.
  await gw.jobs.start();
  let stopping: Promise<void> | null = null;

  return {
    ...gw,
    config,
    redis,
    clock: clock ?? { get now() { return Date.now(); } },
    admin: (method, path, body, headers = {}) => apiRequest(gw.url, TEST_ADMIN_KEY, method, path, body, headers),
    as: (token, method, path, body) => apiRequest(gw.url, token, method, path, body),
    async twilio(path, params, o = {}) {
      const signed = signForm(o.token ?? TEST_AUTH_TOKEN, PUBLIC_BASE_URL + path, params);
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      const sig = o.signature ?? signed.signature;
      if (sig !== '') headers['x-twilio-signature'] = sig;
      const res = await fetch(gw.url + path, { method: 'POST', headers, body: signed.body });
      return { status: res.status, text: await res.text() };
    },
    // Idempotent: a test may stop a gateway early and its file's clean-up stop it again.
    stop: () => (stopping ??= stopOnce()),
  };

  async function stopOnce(): Promise<void> {
    await gw.jobs.stop();
    await gw.close();
    if (ownsRedis) {
      if (!opts.keepKeys) {
        await deleteKeys(redis, prefix).catch(() => {});
        if (!opts.env?.DATABASE_URL) await dropTestDatabase(config.postgres.url).catch(() => {});
      }
      redis.disconnect();
    }
  }
}

/** A JSON request with a bearer; the reply's body parsed when it is JSON. */
export async function apiRequest(
  baseUrl: string,
  bearer: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(baseUrl + path, {
    method,
    headers: {
      authorization: `Bearer ${bearer}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

let sidCounter = 0;
/** A CallSid of Twilio's shape, unique within the run. */
export function callSid(): string {
  sidCounter += 1;
  return `CA${randomBytes(12).toString('hex')}${sidCounter.toString(16).padStart(8, '0')}`;
}

/** Creates an account with one staff softphone and one number; returns its ids. */
export async function createAccount(
  gw: TestGateway,
  over: { monthlyMinutes?: number; billingAnchor?: string; inboundWhenExhausted?: 'allow' | 'reject'; id?: string } = {},
) {
  const id = over.id ?? `acct${randomBytes(4).toString('hex')}`;
  const identity = `${id}_alice`;
  const number = `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
  const res = await gw.admin('POST', '/v1/accounts', {
    id,
    name: `Account ${id}`,
    monthlyMinutes: over.monthlyMinutes ?? 100,
    ...(over.billingAnchor ? { billingAnchor: over.billingAnchor } : {}),
    ...(over.inboundWhenExhausted ? { inboundWhenExhausted: over.inboundWhenExhausted } : {}),
    staff: [{ id: 'alice', email: `alice@${id}.example`, identity }],
    phoneNumbers: [number],
  });
  if (res.status !== 201) throw new Error(`account creation failed: ${res.status} ${JSON.stringify(res.json)}`);
  return { id, identity, number, staffId: 'alice' };
}

/** For a test file whose tests start gateways of their own: returns the starter; every
 *  gateway it started is stopped after each test, the last started first (so one sharing
 *  another's connection stops before the one that owns it). */
export function gatewaysPerTest(): (opts?: StartOptions) => Promise<TestGateway> {
  const running: TestGateway[] = [];
  afterEach(async () => {
    for (const gw of running.splice(0).reverse()) await gw.stop();
  });
  return async (opts = {}) => {
    const gw = await startTestGateway(opts);
    running.push(gw);
    return gw;
  };
}
