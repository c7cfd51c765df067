// /readyz (issue #11): 503 from the moment draining starts — a real SIGTERM of a gateway
// process — and while either Redis connection is down (commands, or the bus's subscriber);
// /healthz answers 200 all along while the process runs.
import { connect, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayProcess } from './support/gateway-process.js';
import { readResponse } from './support/raw-http.js';
import { startTestGateway, uniquePrefix, type TestGateway } from './support/gateway.js';
import { startRedisServer, type RedisServerHandle } from './support/redis-server.js';

async function probe(url: string): Promise<{ status: number; body: any }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.json() };
}

async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

it('a real SIGTERM: /readyz is 503 at once while the process keeps serving for DRAIN_DELAY_SECONDS, /healthz stays 200', async () => {
  const p = await startGatewayProcess(uniquePrefix('ready'), { DRAIN_DELAY_SECONDS: '3' });
  try {
    expect(await probe(`${p.url}/readyz`)).toEqual({ status: 200, body: { status: 'ready', redis: 'ok', subscriber: 'ok', postgres: 'ok' } });
    const sentAt = Date.now();
    p.child.kill('SIGTERM');
    const during = await waitFor(() => probe(`${p.url}/readyz`), (r) => r.status === 503, 2_000);
    expect(during).toEqual({ status: 503, body: { status: 'draining' } });
    expect(Date.now() - sentAt).toBeLessThan(1_500);
    // Liveness is unaffected, and the API still answers while balancers catch up.
    expect((await fetch(`${p.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${p.url}/v1/accounts/nope/balance`, { headers: { authorization: 'Bearer x' } })).status).toBe(401);
    expect(await p.exited).toBe(0);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(2_900);
  } finally {
    await p.stop('SIGKILL');
  }
});

it('a real SIGTERM without a drain delay: a keep-alive connection already open gets 503 draining (Connection: close)', async () => {
  const p = await startGatewayProcess(uniquePrefix('ready0'), { DRAIN_DELAY_SECONDS: '0', SHUTDOWN_IDLE_GRACE_MS: '3000' });
  const { port } = new URL(p.url);
  const s = connect(Number(port), '127.0.0.1');
  try {
    await new Promise((r) => s.once('connect', r));
    s.write('GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await readResponse(s)).head).toMatch(/^HTTP\/1\.1 200/);
    p.child.kill('SIGTERM');
    await waitFor(async () => p.output(), (out) => out.includes('shutting down'), 5_000);
    s.write('GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n');
    const during = await readResponse(s);
    expect(during.head).toMatch(/^HTTP\/1\.1 503/);
    expect(during.head).toMatch(/^connection: close$/im);
    expect(JSON.parse(during.body)).toEqual({ status: 'draining' });
    expect(await p.exited).toBe(0);
  } finally {
    s.destroy();
    await p.stop('SIGKILL');
  }
});

it('close() (SIGINT, tests) marks the instance draining before anything else', async () => {
  const gw = await startTestGateway();
  const closing = gw.close();
  expect(gw.readiness.draining).toBe(true);
  expect((await gw.readiness.report()).body).toEqual({ status: 'draining' });
  await closing;
  await gw.stop();
});

describe('Redis connections down (private redis-server)', () => {
  let srv: RedisServerHandle;
  let gw: TestGateway;
  let admin: Redis;
  beforeAll(async () => {
    srv = await startRedisServer();
    gw = await startTestGateway({ redisUrl: srv.url });
    admin = new Redis(srv.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    admin.on('error', () => {});
  });
  afterAll(async () => {
    admin.disconnect();
    await gw.stop();
    await srv.stop();
  });

  it('the subscriber connection alone down: 503 naming it; back when it reconnects', async () => {
    expect(await probe(`${gw.url}/readyz`)).toEqual({ status: 200, body: { status: 'ready', redis: 'ok', subscriber: 'ok', postgres: 'ok' } });
    // Keep the bus from reconnecting: no room for one more client, then drop its connection.
    const list = String(await admin.client('LIST')).trim().split('\n');
    const bus = list.find((l) => / name=minutegate-bus /.test(l));
    expect(bus).toBeDefined();
    await admin.config('SET', 'maxclients', String(list.length - 1));
    try {
      expect(Number(await admin.client('KILL', 'ID', /\bid=(\d+)/.exec(bus!)![1]!))).toBe(1);
      const down = await waitFor(() => probe(`${gw.url}/readyz`), (r) => r.status === 503);
      expect(down).toEqual({ status: 503, body: { status: 'unavailable', redis: 'ok', subscriber: 'down', postgres: 'ok' } });
      expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    } finally {
      await admin.config('SET', 'maxclients', '10000');
    }
    const back = await waitFor(() => probe(`${gw.url}/readyz`), (r) => r.status === 200);
    expect(back.body).toEqual({ status: 'ready', redis: 'ok', subscriber: 'ok', postgres: 'ok' });
  });

  it('Redis stopped: 503 with both connections down, /healthz 200; ready again when it returns', async () => {
    await srv.stop();
    const down = await waitFor(() => probe(`${gw.url}/readyz`), (r) => r.status === 503 && r.body.subscriber === 'down');
    expect(down).toEqual({ status: 503, body: { status: 'unavailable', redis: 'down', subscriber: 'down', postgres: 'ok' } });
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    await srv.start();
    const back = await waitFor(() => probe(`${gw.url}/readyz`), (r) => r.status === 200, 15_000);
    expect(back.body).toEqual({ status: 'ready', redis: 'ok', subscriber: 'ok', postgres: 'ok' });
  });
});
