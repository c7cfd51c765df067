// Response headers every answer carries (nosniff, Referrer-Policy, HSTS over https, no-store
// on /v1, a CSP on the pages), and a SIGTERM that never resets a keep-alive connection
// under a client that is writing (issue #8, item 7; issue #21).
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { callSid, createAccount, deleteKeys, PUBLIC_BASE_URL, startTestGateway, TEST_AUTH_TOKEN, uniquePrefix, type TestGateway } from './support/gateway.js';
import { startGatewayProcess } from './support/gateway-process.js';
import { dropTestDatabase, testDatabaseUrl } from './support/postgres.js';
import { readResponse } from './support/raw-http.js';
import { TEST_REDIS_URL } from './support/redis-url.js';
import { parentEvent } from './support/calls.js';
import { signForm } from './support/twilio-sign.js';
import { wsUrl } from './support/ws-client.js';

describe('response headers', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ env: { MEDIA_STREAMS: 'on' } });
  });
  afterAll(async () => {
    await gw.stop();
  });

  it('every response carries X-Content-Type-Options: nosniff; every /v1 answer Cache-Control: no-store', async () => {
    const a = await createAccount(gw);
    const admin = { authorization: 'Bearer test-admin-key-0123456789' };
    const json = { ...admin, 'content-type': 'application/json' };
    const cases: { name: string; v1: boolean; res: Promise<Response> }[] = [
      { name: 'healthz', v1: false, res: fetch(`${gw.url}/healthz`) },
      { name: 'readyz', v1: false, res: fetch(`${gw.url}/readyz`) },
      { name: 'metrics', v1: false, res: fetch(`${gw.url}/metrics`) },
      { name: 'no route', v1: false, res: fetch(`${gw.url}/nowhere`) },
      { name: 'twilio 403', v1: false, res: fetch(`${gw.url}/twilio/status`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=b' }) },
      { name: 'v1 balance', v1: true, res: fetch(`${gw.url}/v1/accounts/${a.id}/balance`, { headers: admin }) },
      { name: 'v1 401', v1: true, res: fetch(`${gw.url}/v1/accounts/${a.id}/balance`) },
      { name: 'v1 404', v1: true, res: fetch(`${gw.url}/v1/accounts/nobody/balance`, { headers: admin }) },
      { name: 'v1 400', v1: true, res: fetch(`${gw.url}/v1/accounts`, { method: 'POST', headers: json, body: '{"id":' }) },
      { name: 'v1 413', v1: true, res: fetch(`${gw.url}/v1/accounts`, { method: 'POST', headers: json, body: 'x'.repeat(70_000) }) },
      { name: 'v1 no route', v1: true, res: fetch(`${gw.url}/v1/nothing-here`, { headers: admin }) },
      { name: 'token mint', v1: true, res: fetch(`${gw.url}/v1/accounts/${a.id}/staff/alice/token`, { method: 'POST', headers: admin }) },
    ];
    for (const c of cases) {
      const res = await c.res;
      await res.arrayBuffer();
      expect([c.name, res.headers.get('x-content-type-options')]).toEqual([c.name, 'nosniff']);
      // Errors and 404s too; PUBLIC_BASE_URL is https here, so every answer pins https.
      expect([c.name, res.headers.get('referrer-policy')]).toEqual([c.name, 'no-referrer']);
      expect([c.name, res.headers.get('strict-transport-security')]).toEqual([c.name, 'max-age=31536000']);
      if (c.v1) expect([c.name, res.headers.get('cache-control')]).toEqual([c.name, 'no-store']);
    }
    const minted = await fetch(`${gw.url}/v1/accounts/${a.id}/staff/alice/token`, { method: 'POST', headers: admin });
    expect(minted.status).toBe(201);
    expect(minted.headers.get('cache-control')).toBe('no-store');
  });

  it('the pages (/app, /docs) carry a Content-Security-Policy that forbids framing; JSON answers none', async () => {
    for (const path of ['/app', '/app/', '/app/usage', '/app/billing', '/app/phone', '/docs']) {
      const res = await fetch(`${gw.url}${path}`);
      await res.arrayBuffer();
      expect([path, res.status]).toEqual([path, 200]);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect([path, csp]).toEqual([path, expect.stringMatching(/^default-src 'self';/)]);
      expect([path, csp]).toEqual([path, expect.stringContaining("frame-ancestors 'none'")]);
    }
    const json = await fetch(`${gw.url}/healthz`);
    expect(json.headers.get('content-security-policy')).toBeNull();
  });

  it('refused socket upgrades carry nosniff (and no-store) too', async () => {
    for (const path of ['/v1/ws', '/twilio/media', '/nowhere']) {
      const headers = await new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
        const ws = new WebSocket(wsUrl(gw.url, path));
        ws.on('unexpected-response', (_q, res) => resolve(res.headers));
        ws.on('open', () => reject(new Error('opened')));
        ws.on('error', () => {});
      });
      expect([path, headers['x-content-type-options'], headers['cache-control'], headers['referrer-policy']]).toEqual([path, 'nosniff', 'no-store', 'no-referrer']);
    }
  });
});

describe('HSTS only over https', () => {
  it('with an http PUBLIC_BASE_URL no answer carries Strict-Transport-Security (Referrer-Policy still)', async () => {
    const gw = await startTestGateway({ env: { PUBLIC_BASE_URL: 'http://gw.example.test' } });
    try {
      for (const path of ['/healthz', '/nowhere', '/v1/accounts/x/balance', '/docs']) {
        const res = await fetch(`${gw.url}${path}`);
        await res.arrayBuffer();
        expect([path, res.headers.get('strict-transport-security'), res.headers.get('referrer-policy')]).toEqual([path, null, 'no-referrer']);
      }
    } finally {
      await gw.stop();
    }
  });
});

describe('SIGTERM and keep-alive connections', () => {
  it('while draining, a request on an idle keep-alive connection is answered with Connection: close', async () => {
    // A grace far longer than the bound below, so a loaded machine cannot blur the two.
    const gw = await startTestGateway({ env: { SHUTDOWN_IDLE_GRACE_MS: '10000' } });
    const { port } = new URL(gw.url);
    const s = connect(Number(port), '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.write(`GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect((await readResponse(s)).head).not.toMatch(/connection: close/i);
    const t0 = Date.now();
    const stopped = gw.stop();
    await new Promise((r) => setTimeout(r, 300)); // well into the drain, within the grace
    const closed = new Promise<string | null>((resolve) => {
      let error: string | null = null;
      s.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
      s.on('close', () => resolve(error));
    });
    s.write(`GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`);
    const late = await readResponse(s);
    expect(late.head).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(late.head).toMatch(/^connection: close$/im);
    expect(await closed).toBeNull();
    await stopped;
    // The connection closed after its answer: the drain did not wait for the grace to end.
    expect(Date.now() - t0).toBeLessThan(6000);
  });


  const prefix = uniquePrefix('term');
  const redis = new Redis(TEST_REDIS_URL);
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
    // The process is stopped by the test's own SIGTERM, not by its stop(): its database goes here.
    await dropTestDatabase(testDatabaseUrl(prefix)).catch(() => {});
  });

  it('20 webhooks sent on idle keep-alive sockets at the moment of SIGTERM are each answered or refused unread, never reset', async () => {
    const proc = await startGatewayProcess(prefix);
    const { port } = new URL(proc.url);
    const sockets: Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const s = connect(Number(port), '127.0.0.1');
      s.setNoDelay(true);
      await new Promise((r) => s.once('connect', r));
      s.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`);
      const warm = await readResponse(s);
      expect(warm.head).toMatch(/^HTTP\/1\.1 200/);
      sockets.push(s);
    }
    // Every socket is idle and kept alive now. Each outcome is recorded from here on.
    const outcomes = sockets.map(
      (s) =>
        new Promise<{ bytes: string; error: string | null }>((resolve) => {
          let bytes = '';
          let error: string | null = null;
          s.on('data', (d) => (bytes += d.toString()));
          s.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
          s.on('close', () => resolve({ bytes, error }));
        }),
    );
    const requests = sockets.map(() => {
      const { body, signature } = signForm(TEST_AUTH_TOKEN, `${PUBLIC_BASE_URL}/twilio/status`, parentEvent(callSid(), 1, 'completed', 10));
      return (
        `POST /twilio/status HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
        `X-Twilio-Signature: ${signature}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: keep-alive\r\n\r\n${body}`
      );
    });
    proc.child.kill('SIGTERM');
    // "At the moment of SIGTERM": spread over the first few milliseconds of the shutdown.
    await Promise.all(
      sockets.map(async (s, i) => {
        await new Promise((r) => setTimeout(r, i % 5));
        s.write(requests[i]!);
      }),
    );
    const results = await Promise.all(outcomes);
    expect(await proc.exited).toBe(0);
    let answered = 0;
    for (const r of results) {
      // Never a reset, never a half answer: a whole 200, or nothing at all.
      expect(r.error).toBeNull();
      if (r.bytes === '') continue;
      expect(r.bytes).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      // (One read before the signal was handled is answered as usual, keep-alive.)
      answered += 1;
    }
    // Requests that arrived while draining are answered, not dropped.
    expect(answered).toBeGreaterThan(0);
    // At LOG_LEVEL=info the 20 /healthz probes above wrote no access line (issue #21).
    expect(proc.output()).toContain('"msg":"minutegate listening"');
    expect(proc.output()).not.toMatch(/"path":"\/healthz"/);
  });
});
