// CORS (issue #11): the REST API answers browsers on CORS_ORIGINS — preflight included —
// and nobody else; without CORS_ORIGINS no CORS header is ever sent. The socket refuses a
// browser upgrade from another origin with 403 before the handshake, and still lets
// non-browser clients (no Origin header) in.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { CORS_ALLOW_METHODS } from '../src/http/cors.js';
import { createAccount, startTestGateway, TEST_ADMIN_KEY, type TestGateway } from './support/gateway.js';
import { rawRequest } from './support/raw-http.js';
import { openSocket, wsUrl } from './support/ws-client.js';

const APP = 'https://app.example.com';
const LOCAL = 'http://localhost:5173';
const EVIL = 'https://evil.example.net';

const corsHeaders = (h: Record<string, unknown>) => Object.keys(h).filter((k) => k.startsWith('access-control-'));
const list = (v: unknown) => String(v ?? '').split(',').map((s) => s.trim().toLowerCase());

describe('with CORS_ORIGINS', () => {
  let gw: TestGateway;
  let accountId: string;
  beforeAll(async () => {
    gw = await startTestGateway({ env: { CORS_ORIGINS: `${APP}, ${LOCAL}/` } });
    accountId = (await createAccount(gw)).id;
  });
  afterAll(() => gw.stop());

  it('answers a preflight from a listed origin with the methods and headers the API uses', async () => {
    const r = await rawRequest(`${gw.url}/v1/accounts/${accountId}/purchases`, 'OPTIONS', {
      origin: APP,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type,idempotency-key,x-request-id',
    });
    expect(r.status).toBe(204);
    expect(r.headers['access-control-allow-origin']).toBe(APP);
    expect(list(r.headers['access-control-allow-methods'])).toEqual(expect.arrayContaining(['get', 'post', 'put', 'patch', 'delete']));
    expect(list(r.headers['access-control-allow-headers'])).toEqual(
      expect.arrayContaining(['authorization', 'content-type', 'idempotency-key', 'x-request-id']),
    );
    expect(r.headers['access-control-allow-credentials']).toBeUndefined();
    expect(list(r.headers.vary)).toContain('origin');
    expect(Number(r.headers['access-control-max-age'])).toBeGreaterThan(0);
  });

  it('a listed origin (trailing slash in the setting ignored) reads real responses; nothing secret is exposed', async () => {
    const r = await rawRequest(`${gw.url}/v1/accounts/${accountId}/balance`, 'GET', { origin: LOCAL, authorization: `Bearer ${TEST_ADMIN_KEY}` });
    expect(r.status).toBe(200);
    expect(r.headers['access-control-allow-origin']).toBe(LOCAL);
    const exposed = list(r.headers['access-control-expose-headers']);
    for (const h of exposed) expect(h).not.toMatch(/authorization|cookie|token|key|secret/);
    // Errors carry the header too, so the browser can read the reason.
    const denied = await rawRequest(`${gw.url}/v1/accounts/${accountId}/balance`, 'GET', { origin: APP });
    expect(denied.status).toBe(401);
    expect(denied.headers['access-control-allow-origin']).toBe(APP);
  });

  it('another origin gets no CORS header at all, on preflight or request', async () => {
    const pre = await rawRequest(`${gw.url}/v1/accounts/${accountId}/balance`, 'OPTIONS', {
      origin: EVIL,
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'authorization',
    });
    expect(corsHeaders(pre.headers)).toEqual([]);
    const r = await rawRequest(`${gw.url}/v1/accounts/${accountId}/balance`, 'GET', { origin: EVIL, authorization: `Bearer ${TEST_ADMIN_KEY}` });
    expect(r.status).toBe(200);
    expect(corsHeaders(r.headers)).toEqual([]);
    // Caches keep answers to different origins apart.
    expect(list(r.headers.vary)).toContain('origin');
  });

  it('only the REST API is opened to browsers: probes and webhooks carry no CORS headers', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const r = await rawRequest(gw.url + path, 'GET', { origin: APP });
      expect(corsHeaders(r.headers)).toEqual([]);
    }
  });

  it('the socket refuses a browser upgrade from another origin with 403, before the handshake', async () => {
    const err = await openSocket(wsUrl(gw.url), { authorization: `Bearer ${TEST_ADMIN_KEY}`, origin: EVIL }).then(
      (s) => {
        s.close();
        return null;
      },
      (e: { status?: number; body?: string }) => e,
    );
    expect(err?.status).toBe(403);
    expect(JSON.parse(err!.body!).error.code).toBe('FORBIDDEN');
  });

  it('the socket lets a listed origin and a client without Origin in', async () => {
    for (const headers of [{ origin: APP }, {}] as Record<string, string>[]) {
      const s = await openSocket(wsUrl(gw.url), { authorization: `Bearer ${TEST_ADMIN_KEY}`, ...headers });
      s.send({ type: 'subscribe', accountId, requestId: 'r1' });
      expect((await s.next((m) => m.type === 'balance')).accountId).toBe(accountId);
      s.close();
    }
  });
});

describe('without CORS_ORIGINS', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(() => gw.stop());

  it('sends no CORS header at all, preflight included', async () => {
    const a = await createAccount(gw);
    const r = await rawRequest(`${gw.url}/v1/accounts/${a.id}/balance`, 'GET', { origin: APP, authorization: `Bearer ${TEST_ADMIN_KEY}` });
    expect(r.status).toBe(200);
    expect(corsHeaders(r.headers)).toEqual([]);
    const pre = await rawRequest(`${gw.url}/v1/accounts/${a.id}/balance`, 'OPTIONS', { origin: APP, 'access-control-request-method': 'GET' });
    expect(corsHeaders(pre.headers)).toEqual([]);
  });

  it('the socket accepts any origin (no list to check against)', async () => {
    const s = await openSocket(wsUrl(gw.url), { authorization: `Bearer ${TEST_ADMIN_KEY}`, origin: EVIL });
    s.close();
  });
});

it('CORS_ORIGINS must be origins: a path, a wildcard or a bare host is named as the problem', () => {
  for (const bad of ['https://app.example.com/path', '*', 'app.example.com', 'ftp://x.example']) {
    try {
      loadConfig({ CORS_ORIGINS: bad });
      expect.unreachable(bad);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.join('\n')).toContain('CORS_ORIGINS');
    }
  }
});

it('every method a /v1 route uses is allowed by the preflight', () => {
  const dir = new URL('../src/api/', import.meta.url);
  const used = new Set<string>();
  for (const f of readdirSync(dir)) {
    for (const m of readFileSync(new URL(f, dir), 'utf8').matchAll(/\bapp\.(get|post|put|patch|delete)\(/g)) used.add(m[1]!.toUpperCase());
  }
  expect(used.size).toBeGreaterThanOrEqual(4);
  expect(CORS_ALLOW_METHODS).toEqual(expect.arrayContaining([...used]));
});
