// @minutegate/client (its source, through the workspace) against a real gateway and Redis:
// the first balance, live updates in version order, authorize/cancel as promises with a
// typed denial, AbortSignal, connectCall, reconnection after the gateway restarts (same
// port), a refused token that stops the client instead of looping, and getToken carrying
// a client over a revocation. test/client-package.test.ts runs the packed tarball.
import { createApiClient, createClient, DeniedError, MinutegateError, socketUrl, type BalanceMessage, type ConnectionState } from '@minutegate/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createClient as createBrowserClient } from '../packages/client/src/browser.js';
import { createClientWith, type Connector } from '../packages/client/src/socket.js';
import { Redis } from 'ioredis';
import { createAccount, deleteKeys, startTestGateway, uniquePrefix, type TestGateway } from './support/gateway.js';
import { dropTestDatabase, testDatabaseUrl } from './support/postgres.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from './support/calls.js';

const prefix = uniquePrefix('client');
let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ prefix, keepKeys: true });
});
afterAll(async () => {
  // Every gateway of this file kept the prefix's keys (it restarts on them): they go now.
  const redisUrl = gw.config.redis.url;
  await gw.stop();
  const cleaner = new Redis(redisUrl);
  await deleteKeys(cleaner, prefix).catch(() => {});
  cleaner.disconnect();
  await dropTestDatabase(testDatabaseUrl(prefix)).catch(() => {});
});

async function staffToken(accountId: string, staffId = 'alice'): Promise<string> {
  const r = await gw.admin('POST', `/v1/accounts/${accountId}/staff/${staffId}/token`);
  expect(r.status).toBe(201);
  return r.json.token;
}
const until = async (ok: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return ok();
};
/** Upgrades of /v1/ws the gateway answered with `status`, from its own metrics. */
async function socketAnswers(status: number): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('minutegate_http_requests_total{') && l.includes('route="/v1/ws"') && l.includes(`status="${status}"`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

it('derives the socket URL from the base URL', () => {
  expect(socketUrl('https://minutes.example.com')).toBe('wss://minutes.example.com/v1/ws');
  expect(socketUrl('http://127.0.0.1:8080/gateway/')).toBe('ws://127.0.0.1:8080/gateway/v1/ws');
  expect(socketUrl('ws://h/v1/ws?x=1')).toBe('ws://h/v1/ws');
  expect(() => socketUrl('ftp://h')).toThrow(/http\(s\) or ws\(s\)/);
  expect(() => createClient({ url: 'http://h' } as never)).toThrow(/token or a getToken/);
});

it('resolves ready with the first balance and follows every change, never going back a version', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 10 });
  const mg = createClient({ url: gw.url, token: await staffToken(a.id) });
  const first = await mg.ready;
  expect(first).toMatchObject({ type: 'balance', accountId: a.id, balance: 10, available: 10 });
  expect(mg.state).toBe('open');
  const seen: BalanceMessage[] = [];
  const calls: string[] = [];
  mg.on('balance', (b) => seen.push(b));
  const off = mg.on('call', (c) => calls.push(`${c.event} ${c.callSid}`));

  const call = await placeSoftphoneCall(gw, a.identity);
  await postAll(gw, answeredCallSignals(call.callSid, 125));
  expect(await until(() => mg.balance?.balance === 7)).toBe(true);
  expect(mg.balance).toMatchObject({ balance: 7, reserved: 0, usedThisCycle: 3 });
  for (let i = 1; i < seen.length; i++) expect(seen[i]!.version).toBeGreaterThan(seen[i - 1]!.version);
  expect(await until(() => calls.includes(`ended ${call.callSid}`))).toBe(true);
  off();
  mg.close();
  expect(mg.state).toBe('closed');
  await expect(mg.ready).resolves.toMatchObject({ accountId: a.id });
});

it('authorizes and cancels as promises; a denial is a DeniedError with the gateway’s reason', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 1 });
  const mg = createClient({ url: gw.url, token: await staffToken(a.id) });
  await mg.ready;
  const auth = await mg.authorize('+14155550100');
  expect(auth.authorizationId).toEqual(expect.any(String));
  expect(Date.parse(auth.expiresAt)).toBeGreaterThan(Date.now());
  expect(await until(() => mg.balance?.available === 0)).toBe(true);

  const denied = await mg.authorize('+14155550101').catch((e: unknown) => e);
  expect(denied).toBeInstanceOf(DeniedError);
  expect((denied as DeniedError).reason).toBe('no_minutes');

  await mg.cancel(auth.authorizationId);
  expect(await until(() => mg.balance?.available === 1)).toBe(true);
  const again = await mg.cancel(auth.authorizationId).catch((e: unknown) => e);
  expect(again).toBeInstanceOf(MinutegateError);
  expect((again as MinutegateError).code).toBe('NOT_FOUND');
  mg.close();
  await expect(mg.authorize('+14155550100')).rejects.toMatchObject({ code: 'CLOSED' });
});

it('an aborted authorize rejects with ABORTED, and a minute granted after all is given back', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 2 });
  const mg = createClient({ url: gw.url, token: await staffToken(a.id) });
  await mg.ready;
  const early = new AbortController();
  early.abort();
  await expect(mg.authorize('+14155550100', { signal: early.signal })).rejects.toMatchObject({ code: 'ABORTED' });

  const ac = new AbortController();
  const pending = mg.authorize('+14155550100', { signal: ac.signal });
  ac.abort(); // the frame is on its way: the gateway grants it, the client cancels it
  await expect(pending).rejects.toMatchObject({ code: 'ABORTED' });
  // Granted and released again: after a moment both minutes can be authorized (had the
  // aborted one kept its minute, the second would be denied no_minutes).
  await new Promise((r) => setTimeout(r, 500));
  await mg.authorize('+14155550100');
  await expect(mg.authorize('+14155550102')).resolves.toMatchObject({ authorizationId: expect.any(String) });
  mg.close();
});

it('connectCall passes To and authorizationId to the Voice SDK device, and releases the minute if connect fails', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 1 });
  const mg = createClient({ url: gw.url, token: await staffToken(a.id) });
  await mg.ready;
  const failing = { connect: async () => Promise.reject(new Error('no microphone')) };
  await expect(mg.connectCall(failing, '+14155550100')).rejects.toThrow('no microphone');
  expect(await until(() => mg.balance?.available === 1 && mg.balance.reserved === 0)).toBe(true);

  const seen: Record<string, string>[] = [];
  const device = { connect: async (o: { params: Record<string, string> }) => (seen.push(o.params), { sid: 'call-1' }) };
  const call = await mg.connectCall(device, '+14155550100', { To: '+19005550000', Note: 'x' });
  expect(call).toEqual({ sid: 'call-1' });
  expect(seen[0]).toEqual({ To: '+14155550100', Note: 'x', authorizationId: expect.any(String) });
  expect(await until(() => mg.balance?.reserved === 1)).toBe(true);
  mg.close();
});

it('a refused token stops the client: ready and pending calls reject with UNAUTHORIZED at once, no retry', async () => {
  const before = await socketAnswers(401);
  const started = Date.now();
  const states: ConnectionState[] = [];
  const mg = createClient({ url: gw.url, token: 'not-a-token', baseDelayMs: 10 });
  mg.on('state', (s) => states.push(s));
  const errors: string[] = [];
  mg.on('error', (e) => errors.push(e.code));
  const pending = mg.authorize('+14155550100');
  const err = await mg.ready.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(MinutegateError);
  expect((err as MinutegateError).code).toBe('UNAUTHORIZED');
  expect(Date.now() - started).toBeLessThan(5000);
  await expect(pending).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  expect(mg.state).toBe('unauthorized');
  expect(states).toEqual(['unauthorized']);
  expect(errors).toEqual(['UNAUTHORIZED']);
  await new Promise((r) => setTimeout(r, 300));
  expect((await socketAnswers(401)) - before).toBe(1);
  await expect(mg.authorize('+14155550100')).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
});

it('with getToken, a refused token is replaced once; refused again, the client stops (two attempts)', async () => {
  const before = await socketAnswers(401);
  let asked = 0;
  const mg = createClient({ url: gw.url, getToken: async () => `bad-token-${(asked += 1)}` });
  await expect(mg.ready).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  expect(asked).toBe(2);
  await new Promise((r) => setTimeout(r, 300));
  expect((await socketAnswers(401)) - before).toBe(2);
  expect(mg.state).toBe('unauthorized');
});

it('after revoke-tokens, a client with getToken carries on with a fresh token; one without stops with FORBIDDEN', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 5 });
  let asked = 0;
  const withRefresh = createClient({ url: gw.url, getToken: async () => ((asked += 1), staffToken(a.id)) });
  const fixed = createClient({ url: gw.url, token: await staffToken(a.id) });
  await Promise.all([withRefresh.ready, fixed.ready]);
  expect(asked).toBe(1);
  // Listening before the revocation: the gateway runs in this process, and its re-check
  // may close the socket before the admin call's answer has been read here.
  const fixedErrors: MinutegateError[] = [];
  fixed.on('error', (e) => fixedErrors.push(e));

  expect((await gw.admin('POST', `/v1/accounts/${a.id}/staff/alice/revoke-tokens`)).status).toBe(204);
  // Each instance re-checks its staff sockets within 5 s (issue #8).
  expect(await until(() => fixedErrors.length > 0, 8000)).toBe(true);
  expect(fixedErrors.map((e) => e.code)).toEqual(['FORBIDDEN']);
  expect(fixed.state).toBe('unauthorized');
  expect(await until(() => asked === 2 && withRefresh.state === 'open', 8000)).toBe(true);
  const auth = await withRefresh.authorize('+14155550100');
  expect(auth.authorizationId).toEqual(expect.any(String));
  expect(await until(() => withRefresh.balance?.reserved === 1)).toBe(true);
  withRefresh.close();
}, 20_000);

it('reconnects with backoff after the gateway restarts and shows the fresh balance without a new client', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 20 });
  const port = gw.port;
  const mg = createClient({ url: gw.url, token: await staffToken(a.id), baseDelayMs: 50, maxDelayMs: 400 });
  await mg.ready;
  const states: ConnectionState[] = [];
  mg.on('state', (s) => states.push(s));

  await gw.stop();
  expect(await until(() => mg.state === 'reconnecting')).toBe(true);
  // While it is down, the pool changes through another instance on the same Redis.
  const other = await startTestGateway({ prefix, keepKeys: true });
  await other.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: 5, reason: 'while away' });
  await other.stop();

  gw = await startTestGateway({ prefix, keepKeys: true, port });
  expect(await until(() => mg.state === 'open', 8000)).toBe(true);
  expect(await until(() => mg.balance?.balance === 25)).toBe(true);
  expect(states).toContain('reconnecting');
  expect(states.at(-1)).toBe('open');
  mg.close();
}, 30_000);

it('the typed REST client reads the balance with the token', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 7 });
  const api = createApiClient({ url: gw.url, token: await staffToken(a.id) });
  const { data, error } = await api.GET('/v1/accounts/{id}/balance', { params: { path: { id: a.id } } });
  expect(error).toBeUndefined();
  expect(data?.balance).toBe(7);
  const other = await createAccount(gw, { monthlyMinutes: 1 });
  const refused = await api.GET('/v1/accounts/{id}/balance', { params: { path: { id: other.id } } });
  expect(refused.response.status).toBe(403);
  expect(refused.error).toMatchObject({ error: { code: 'FORBIDDEN' } });
});

describe('the browser build', () => {
  // Node 20 has no WebSocket of its own: `ws` stands in for the browser's (it has the same
  // onopen/onmessage/onclose), which, like a browser's, says nothing about a refused upgrade.
  const g = globalThis as { WebSocket?: unknown };
  const had = g.WebSocket;
  beforeAll(() => {
    g.WebSocket = WebSocket;
  });
  afterAll(() => {
    g.WebSocket = had;
  });

  it('puts the token in the query, and tells a refused token by asking the gateway with a plain GET', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 3 });
    const ok = createBrowserClient({ url: gw.url, token: await staffToken(a.id) });
    expect(await ok.ready).toMatchObject({ accountId: a.id, available: 3 });
    ok.close();

    const started = Date.now();
    const refused = createBrowserClient({ url: gw.url, token: 'not-a-token' });
    await expect(refused.ready).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(refused.state).toBe('unauthorized');
  });

  it('the gateway answers that plain GET: 401 for no or a bad token, 404 for a good one', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 1 });
    const get = (token?: string) => fetch(`${gw.url}/v1/ws`, { headers: token ? { authorization: `Bearer ${token}` } : {} }).then((r) => r.status);
    expect(await get()).toBe(401);
    expect(await get('nope')).toBe(401);
    expect(await get(await staffToken(a.id))).toBe(404);
  });
});

it('waits a full-jitter delay between attempts: random in [0, min(30 s, 250 ms × 2ⁿ)]', async () => {
  // A transport that never connects (the gateway is away), and a random draw pinned at its
  // top and then its bottom: the delays asked for are the ceilings, then 0.
  const delays: number[] = [];
  const realSetTimeout = globalThis.setTimeout;
  const random = vi.spyOn(Math, 'random').mockReturnValue(0.999999);
  // Only the client's own timers (the gateway of this file runs timers of its own).
  const timers = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
    if (!new Error().stack?.includes('packages/client/src/socket')) return realSetTimeout(fn, ms);
    delays.push(Math.round(ms ?? 0));
    return realSetTimeout(fn, 0);
  }) as typeof setTimeout);
  let attempts = 0;
  const away: Connector = (_url, _token, on) => {
    attempts += 1;
    queueMicrotask(() => on.ended({ code: 1006, reason: '' }));
    return { send: () => undefined, close: () => undefined };
  };
  try {
    const mg = createClientWith(away, { url: 'http://gateway.invalid', token: 't', requestTimeoutMs: 60_000 });
    expect(await until(() => attempts > 10, 2000)).toBe(true);
    random.mockReturnValue(0);
    expect(await until(() => delays.filter((d) => d === 0).length > 0, 2000)).toBe(true);
    mg.close();
    const ceilings = delays.filter((d) => d > 0).slice(0, 10);
    expect(ceilings).toEqual([250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(mg.state).toBe('closed');
  } finally {
    timers.mockRestore();
    random.mockRestore();
  }
});
