// Fan-out across gateway *processes* on one Redis, and a graceful SIGTERM mid-storm.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { accountKeys } from '../src/redis/keys.js';
import { deleteKeys, PUBLIC_BASE_URL, TEST_ADMIN_KEY, TEST_AUTH_TOKEN, uniquePrefix, callSid } from './support/gateway.js';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.js';
import { answeredCallSignals } from './support/calls.js';
import { signForm } from './support/twilio-sign.js';
import { openSocket, wsUrl, type TestSocket } from './support/ws-client.js';
import { TEST_REDIS_URL } from './support/redis-url.js';

const prefix = uniquePrefix('multi');
let A: GatewayProcess;
let B: GatewayProcess;
const redis = new Redis(TEST_REDIS_URL);

beforeAll(async () => {
  // The storm below is one staff member on 50 sockets: the per-staff caps on authorizations
  // (issue #8) and sockets (issue #16) are lifted.
  const env = { MAX_OPEN_AUTHORIZATIONS_PER_STAFF: '100000', WS_MAX_SOCKETS_PER_STAFF: '100000' };
  [A, B] = await Promise.all([startGatewayProcess(prefix, env), startGatewayProcess(prefix, env)]);
});
afterAll(async () => {
  await Promise.all([A?.stop(), B?.stop()]);
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

async function admin(base: string, method: string, path: string, body?: unknown) {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
}

async function twilio(base: string, path: string, params: Record<string, string>) {
  const { body, signature } = signForm(TEST_AUTH_TOKEN, PUBLIC_BASE_URL + path, params);
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    body,
  });
  return { status: res.status, text: await res.text() };
}

async function account(base: string, monthlyMinutes: number) {
  const id = `m${Math.random().toString(36).slice(2, 10)}`;
  const identity = `${id}_alice`;
  const r = await admin(base, 'POST', '/v1/accounts', {
    id,
    name: id,
    monthlyMinutes,
    staff: [{ id: 'alice', email: 'alice@x.example', identity }],
  });
  expect(r.status).toBe(201);
  const token = (await admin(base, 'POST', `/v1/accounts/${id}/staff/alice/token`)).json.token as string;
  return { id, identity, token };
}

describe('two gateway processes on one Redis', () => {
  it('a dashboard on B sees, within 200 ms, the balance change and call end caused on A', async () => {
    const acct = await account(A.url, 10);
    const dash = await openSocket(wsUrl(B.url), { authorization: `Bearer ${acct.token}` });
    await dash.next((m) => m.type === 'balance');
    const sid = callSid();
    const voice = await twilio(A.url, '/twilio/voice', { CallSid: sid, From: `client:${acct.identity}`, To: '+14155550100', CallStatus: 'ringing' });
    expect(voice.text).toContain('<Dial');
    await dash.next((m) => m.type === 'balance' && m.reserved === 1);
    const signals = answeredCallSignals(sid, 125);
    for (const s of signals.slice(0, -2)) await twilio(A.url, '/twilio/status', s);
    // The completing signal: time from the 200 answer on A to the frame on B.
    const sent = performance.now();
    const res = await twilio(A.url, '/twilio/status', signals[signals.length - 2]!);
    expect(res.status).toBe(200);
    const bal = await dash.next((m) => m.type === 'balance' && m.reserved === 0, 2000);
    const balAt = performance.now();
    const ended = await dash.next((m) => m.type === 'call' && m.event === 'ended', 2000);
    const endedAt = performance.now();
    expect(bal).toMatchObject({ balance: 7, usedThisCycle: 3, activeCalls: 0 });
    expect(ended).toMatchObject({ callSid: sid, billableSeconds: 125, billedMinutes: 3 });
    expect(balAt - sent).toBeLessThan(200);
    expect(endedAt - sent).toBeLessThan(200);
    dash.close();
  });

  it('removing a staff member on A closes their socket on B with 4003 within 5 s (issue #8)', async () => {
    const acct = await account(A.url, 10);
    const onB = await openSocket(wsUrl(B.url), { authorization: `Bearer ${acct.token}` });
    await onB.next((m) => m.type === 'balance');
    const res = await fetch(`${A.url}/v1/accounts/${acct.id}/staff/alice`, { method: 'DELETE', headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(res.status).toBe(204);
    const at = performance.now();
    const closed = await onB.closed;
    expect(closed.code).toBe(4003);
    expect(performance.now() - at).toBeLessThan(5000);
    const rest = await fetch(`${B.url}/v1/accounts/${acct.id}/balance`, { headers: { authorization: `Bearer ${acct.token}` } });
    expect(rest.status).toBe(401);
  });

  it('SIGTERM mid-storm loses no authorization and leaves reserved = the sum of live reservations', async () => {
    const acct = await account(A.url, 100_000);
    const sockets: TestSocket[] = [];
    for (let i = 0; i < 50; i++) sockets.push(await openSocket(wsUrl(B.url), { authorization: `Bearer ${acct.token}` }));
    let sent = 0;
    const closes = sockets.map((s) => s.closed);
    const storm = setInterval(() => {
      for (const [i, s] of sockets.entries()) {
        if (s.ws.readyState === 1) {
          s.send({ type: 'authorize', requestId: `s${i}-${sent}`, to: '+14155550100' });
          sent += 1;
        }
      }
    }, 25); // 40 requests/s per socket: under the rate limit, 2,000/s in all
    await new Promise((r) => setTimeout(r, 400));
    const code = await B.stop('SIGTERM');
    clearInterval(storm);
    expect(code).toBe(0);
    const closeCodes = (await Promise.all(closes)).map((c) => c.code);
    expect(closeCodes).toEqual(closeCodes.map(() => 1012));
    const authorized = sockets.flatMap((s) => s.messages.filter((m) => m.type === 'authorized'));
    const failed = sockets.flatMap((s) => s.messages.filter((m) => m.type === 'error' && m.code === 'UNAVAILABLE' && m.message.includes('retry')));
    expect(authorized.length).toBeGreaterThan(50);
    expect(new Set(authorized.map((m) => m.authorizationId)).size).toBe(authorized.length);
    // Every authorization a client was told about is live in Redis, and the pool's
    // reserved minutes are exactly the sum of the live reservations.
    const k = accountKeys(prefix, acct.id);
    const live = new Map<string, number>();
    for (const [field, value] of Object.entries(await redis.hgetall(k.auths))) {
      if (!field.startsWith('req:')) live.set(field, (JSON.parse(value) as { r: number }).r);
    }
    for (const m of authorized) expect(live.has(m.authorizationId)).toBe(true);
    const reserved = Number(await redis.hget(k.pool, 'reserved'));
    expect(reserved).toBe([...live.values()].reduce((a, b) => a + b, 0));
    // Only a request whose answer was an error can have left an authorization the client
    // does not know of (it expires after AUTHORIZATION_TTL_SECONDS).
    expect(live.size - authorized.length).toBeLessThanOrEqual(failed.length);
    expect(sent).toBeGreaterThanOrEqual(authorized.length);
  });
});
