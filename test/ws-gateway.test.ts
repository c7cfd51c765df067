// The client socket: auth before upgrade, snapshots, authorizations bound by
// /twilio/voice, tenant isolation, bad frames, flooding and slow clients.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, startTestGateway, type TestGateway } from './support/gateway.js';
import { placeSoftphoneCall, answeredCallSignals, postAll } from './support/calls.js';
import { openSocket, wsUrl, type TestSocket } from './support/ws-client.js';
import { rawRequest } from './support/raw-http.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ env: { WS_MAX_MESSAGES_PER_SECOND: '20' } });
});
afterAll(async () => {
  await gw.stop();
});

async function staffToken(accountId: string, staffId = 'alice'): Promise<string> {
  return (await gw.admin('POST', `/v1/accounts/${accountId}/staff/${staffId}/token`)).json.token;
}
const connect = (token: string) => openSocket(wsUrl(gw.url), { authorization: `Bearer ${token}` });

describe('connecting', () => {
  it('refuses a missing or bad token with HTTP 401 before any upgrade', async () => {
    await expect(openSocket(wsUrl(gw.url))).rejects.toMatchObject({ status: 401 });
    await expect(openSocket(`${wsUrl(gw.url)}?token=nope`)).rejects.toMatchObject({ status: 401 });
    await expect(openSocket(wsUrl(gw.url, '/v1/nowhere'))).rejects.toMatchObject({ status: 404 });
  });

  it('answers 400 to an authenticated Upgrade: websocket that is no HTTP upgrade (no Connection: Upgrade)', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 1 });
    const res = await rawRequest(`${gw.url}/v1/ws`, 'GET', { authorization: `Bearer ${await staffToken(a.id)}`, upgrade: 'websocket' });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'BAD_REQUEST' } });
  });

  it('sends the balance snapshot on connect (also with ?token= for browsers)', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 42 });
    const tok = await staffToken(a.id);
    const s = await openSocket(`${wsUrl(gw.url)}?token=${tok}`);
    const snap = await s.next((m) => m.type === 'balance');
    expect(snap).toMatchObject({ type: 'balance', accountId: a.id, balance: 42, reserved: 0, available: 42, activeCalls: 0, version: 1 });
    expect(Object.keys(snap).sort()).toEqual(
      ['type', 'accountId', 'balance', 'reserved', 'available', 'planMinutes', 'addonMinutes', 'monthlyMinutes', 'usedThisCycle', 'overageThisCycle', 'activeCalls', 'cycleStart', 'cycleEnd', 'version'].sort(),
    );
    s.send({ type: 'ping' });
    expect(await s.next((m) => m.type === 'pong')).toEqual({ type: 'pong' });
    s.close();
  });
});

describe('authorizing over the socket', () => {
  it('reserves, is bound by /twilio/voice without a second reservation, and streams each change', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 2 });
    const s = await connect(await staffToken(a.id));
    await s.next((m) => m.type === 'balance');
    s.send({ type: 'authorize', requestId: 'r1', to: '+14155550100' });
    const ok = await s.next((m) => m.type === 'authorized');
    expect(ok).toMatchObject({ requestId: 'r1', authorizationId: expect.stringMatching(/^az_/) });
    expect(Date.parse(ok.expiresAt) - Date.now()).toBeGreaterThan(50_000);
    expect(await s.next((m) => m.type === 'balance')).toMatchObject({ reserved: 1, available: 1 });

    const call = await placeSoftphoneCall(gw, a.identity, '+14155550100', { authorizationId: ok.authorizationId });
    expect(call.allowed).toBe(true);
    expect(await s.next((m) => m.type === 'balance' && m.activeCalls === 1)).toMatchObject({ reserved: 1, available: 1 });

    // The same authorization cannot be bound twice: a second call gets a fresh check.
    const second = await placeSoftphoneCall(gw, a.identity, '+14155550100', { authorizationId: ok.authorizationId });
    expect(second.allowed).toBe(true);
    expect(await s.next((m) => m.type === 'balance' && m.activeCalls === 2)).toMatchObject({ reserved: 2, available: 0 });
    // A softphone of the account is checked against the pool like a number.
    s.send({ type: 'authorize', requestId: 'r2', to: `client:${a.identity}` });
    expect(await s.next((m) => m.type === 'denied')).toEqual({ type: 'denied', requestId: 'r2', reason: 'no_minutes' });

    await postAll(gw, answeredCallSignals(call.callSid, 61));
    const ended = await s.next((m) => m.type === 'call' && m.event === 'ended');
    expect(ended).toMatchObject({ callSid: call.callSid, billableSeconds: 61, billedMinutes: 2 });
    expect(await s.next((m) => m.type === 'balance' && m.activeCalls === 1)).toMatchObject({ balance: 0, reserved: 1 });
    s.close();
  });

  it('answers a repeated requestId with the same authorization; cancel releases it at once', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 1 });
    const s = await connect(await staffToken(a.id));
    s.send({ type: 'authorize', requestId: 'same', to: '+14155550100' });
    const first = await s.next((m) => m.type === 'authorized');
    s.send({ type: 'authorize', requestId: 'same', to: '+14155550100' });
    const again = await s.next((m) => m.type === 'authorized');
    expect(again.authorizationId).toBe(first.authorizationId);
    // A numeric requestId comes back as the number it was.
    s.send({ type: 'authorize', requestId: 7, to: '+14155550100' });
    expect(await s.next((m) => m.type === 'denied')).toEqual({ type: 'denied', requestId: 7, reason: 'no_minutes' });
    s.send({ type: 'cancel', authorizationId: first.authorizationId });
    expect(await s.next((m) => m.type === 'balance' && m.reserved === 0)).toMatchObject({ available: 1 });
    s.send({ type: 'cancel', authorizationId: first.authorizationId });
    expect(await s.next((m) => m.type === 'error')).toMatchObject({ code: 'NOT_FOUND' });
    s.close();
  });

  it('falls back to a fresh check for an unknown authorization, and rejects on an empty pool', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 1 });
    const call = await placeSoftphoneCall(gw, a.identity, '+14155550100', { authorizationId: 'az_unknown' });
    expect(call.allowed).toBe(true);
    const next = await placeSoftphoneCall(gw, a.identity, '+14155550100', { authorizationId: 'az_unknown2' });
    expect(next.twiml).toMatch(/<Response><Reject/);
  });
});

describe('tenant isolation', () => {
  it('a staff token cannot subscribe to or authorize against another account, and never hears it', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 5 });
    const b = await createAccount(gw, { monthlyMinutes: 5 });
    const sa = await connect(await staffToken(a.id));
    await sa.next((m) => m.type === 'balance');
    sa.send({ type: 'subscribe', accountId: b.id, requestId: 'x' });
    expect(await sa.next((m) => m.type === 'error')).toMatchObject({ code: 'FORBIDDEN', requestId: 'x' });
    // B's activity, seen by B's own dashboard, never reaches A.
    const sb = await connect(await staffToken(b.id));
    await sb.next((m) => m.type === 'balance');
    const bc = await placeSoftphoneCall(gw, b.identity);
    await postAll(gw, answeredCallSignals(bc.callSid, 90));
    await sb.next((m) => m.type === 'call' && m.event === 'ended');
    await gw.admin('POST', `/v1/accounts/${b.id}/adjustments`, { minutes: 3, reason: 'x' });
    await sb.next((m) => m.type === 'balance' && m.balance === 6);
    expect(sa.messages.filter((m) => m.accountId === b.id || m.callSid === bc.callSid)).toEqual([]);
    sa.close();
    sb.close();
  });

  it('the admin key watches any account it subscribes to, but cannot authorize calls', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 7 });
    const s = await openSocket(wsUrl(gw.url), { authorization: 'Bearer test-admin-key-0123456789' });
    s.send({ type: 'subscribe', accountId: a.id });
    expect(await s.next((m) => m.type === 'balance')).toMatchObject({ accountId: a.id, balance: 7 });
    s.send({ type: 'subscribe', accountId: 'ghost' });
    expect(await s.next((m) => m.type === 'error')).toMatchObject({ code: 'NOT_FOUND' });
    s.send({ type: 'authorize', requestId: 'r', to: '+14155550100' });
    expect(await s.next((m) => m.type === 'error' && m.requestId === 'r')).toMatchObject({ code: 'FORBIDDEN' });
    s.close();
  });
});

describe('bad input over the socket', () => {
  let s: TestSocket;
  beforeAll(async () => {
    const a = await createAccount(gw);
    s = await connect(await staffToken(a.id));
    await s.next((m) => m.type === 'balance');
  });

  it('answers garbage with error frames naming the problem and stays open', async () => {
    s.send('not json');
    expect(await s.next((m) => m.type === 'error')).toMatchObject({ code: 'INVALID_JSON' });
    s.send({ type: 'teleport' });
    expect(await s.next((m) => m.type === 'error')).toMatchObject({ code: 'UNKNOWN_TYPE', message: expect.stringContaining('teleport') });
    s.send({ type: 'authorize', to: '+14155550100' });
    expect(await s.next((m) => m.type === 'error')).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('requestId') });
    s.send({ type: 'authorize', requestId: 'q', to: 'not a number' });
    expect(await s.next((m) => m.type === 'error')).toMatchObject({ code: 'VALIDATION_FAILED', requestId: 'q', message: expect.stringContaining('to') });
    s.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await s.next((m) => m.type === 'error')).toMatchObject({ code: 'BAD_FRAME' });
    s.send({ type: 'ping' });
    expect(await s.next((m) => m.type === 'pong')).toBeTruthy();
  });

  it('closes with 1009 on a frame over 16 KiB', async () => {
    const a = await createAccount(gw);
    const big = await connect(await staffToken(a.id));
    big.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(17 * 1024) }));
    expect((await big.closed).code).toBe(1009);
  });

  it('answers a flood with RATE_LIMITED and closes a client that persists', async () => {
    const a = await createAccount(gw);
    const f = await connect(await staffToken(a.id));
    for (let i = 0; i < 30; i++) f.send({ type: 'ping' });
    expect(await f.next((m) => m.type === 'error' && m.code === 'RATE_LIMITED')).toBeTruthy();
    for (let i = 0; i < 60; i++) f.send({ type: 'ping' });
    expect((await f.closed).code).toBe(4029);
  });

  it('is still serving', async () => {
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });
});

describe('slow clients', () => {
  type Pausable = { _socket: { pause(): void; resume(): void } };

  it('get balance snapshots coalesced to the latest version, and do not hold others back', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 1 });
    const tok = await staffToken(a.id);
    const slow = await connect(tok);
    const fast = await connect(tok);
    await slow.next((m) => m.type === 'balance');
    await fast.next((m) => m.type === 'balance');
    // The slow client stops reading: the kernel buffers fill, then the gateway's.
    (slow.ws as unknown as Pausable)._socket.pause();
    // Enough snapshots (~11 MB) to fill the kernel's socket buffers several times over.
    const N = 40_000;
    for (let i = 0; i < N; i += 1000) {
      await Promise.all(Array.from({ length: 1000 }, (_, j) => gw.store.adjust(a.id, 1, 'load', `l${i + j}`, Date.now())));
    }
    const last = await fast.next((m) => m.type === 'balance' && m.balance === N + 1, 10_000);
    expect(fast.messages.filter((m) => m.type === 'balance').length).toBeGreaterThan(0);
    (slow.ws as unknown as Pausable)._socket.resume();
    const slowLast = await slow.next((m) => m.type === 'balance' && m.version === last.version, 10_000);
    expect(slowLast.balance).toBe(N + 1);
    const versions = slow.messages.filter((m) => m.type === 'balance').map((m) => m.version);
    expect(versions.length).toBeLessThan(N / 2);
    for (let i = 1; i < versions.length; i++) expect(versions[i]).toBeGreaterThan(versions[i - 1]);
    slow.close();
    fast.close();
  });

  it('of an account whose balance changes all the time get ~10 snapshots a second, the last one always', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 1 });
    const tok = await staffToken(a.id);
    const sock = await connect(tok);
    await sock.next((m) => m.type === 'balance');
    const before = sock.messages.filter((m) => m.type === 'balance').length;
    // ~2 s of changes, one after the other (hundreds a second; an authorization storm).
    const until = Date.now() + 2000;
    let n = 0;
    while (Date.now() < until) {
      n += 1;
      await gw.store.adjust(a.id, 1, 'load', `s${n}`, Date.now());
    }
    const last = await sock.next((m) => m.type === 'balance' && m.balance === n + 1, 5000);
    const frames = sock.messages.filter((m) => m.type === 'balance').length - before;
    expect(n).toBeGreaterThan(100);
    // At most every 100 ms once the room is busy (40 a second while it was quiet): ≤ ~10/s, plus the ramp-up.
    expect(frames).toBeLessThanOrEqual(30);
    expect(last.version).toBeGreaterThan(0);
    sock.close();
  });

  it('are closed with SLOW_CONSUMER once their unsent buffer passes the bound', async () => {
    const small = await startTestGateway({ env: { WS_MAX_BUFFERED_BYTES: '16384' } });
    try {
      const a = await createAccount(small, { monthlyMinutes: 1_000_000 });
      const tok = (await small.admin('POST', `/v1/accounts/${a.id}/staff/alice/token`)).json.token;
      const slow = await openSocket(wsUrl(small.url), { authorization: `Bearer ${tok}` });
      const fast = await openSocket(wsUrl(small.url), { authorization: `Bearer ${tok}` });
      await slow.next((m) => m.type === 'balance');
      (slow.ws as unknown as Pausable)._socket.pause();
      // Call events are not coalesced: enough of them overflow a reader that stopped. The
      // kernel's socket buffers take some megabytes first, so each started event is made
      // ~4 KB by its `to` (the store takes it as it is): about a thousand calls fill them,
      // where 250-byte events took some 15,000 (10 s of CPU, past the timeout on a busy machine).
      const store = small.store;
      let n = 0;
      const LONG_TO = `+1${'5'.repeat(4000)}`;
      const closed = slow.closed.then((c) => c);
      // The gateway starts the close (state CLOSING) as soon as the bound is passed.
      const closing = () => [...small.clients.clients].some((c) => c.ws.readyState === 2);
      for (let round = 0; round < 200 && !closing(); round++) {
        await Promise.all(
          Array.from({ length: 250 }, async () => {
            const sid = `CAslow${(n++).toString().padStart(10, '0')}`;
            await store.authorizeCall({ accountId: a.id, callSid: sid, direction: 'outbound', from: 'client:x', to: LONG_TO, staffId: 'alice', reserveMinutes: 1, authorizationId: '', expectedLegs: 1, check: { member: sid, dueAt: Date.now() + 3600_000 } }, Date.now());
            await store.recordCallEvent(a.id, { callSid: sid, kind: 'action', legSid: sid, sequenceNumber: null, status: 'completed', seconds: 90, minutes: 2, dialCallSid: null }, Date.now());
          }),
        );
      }
      expect(closing()).toBe(true);
      (slow.ws as unknown as Pausable)._socket.resume();
      expect((await closed).code).toBe(4008);
      // The other client kept receiving everything.
      await fast.next((m) => m.type === 'call' && m.callSid === `CAslow${(n - 1).toString().padStart(10, '0')}`, 10_000);
      fast.close();
    } finally {
      await small.stop();
    }
  });
});

describe('heartbeat', () => {
  it('terminates a peer that stops answering pings, and keeps one that answers', async () => {
    const hb = await startTestGateway({ env: { WS_HEARTBEAT_SECONDS: '1' } });
    try {
      const a = await createAccount(hb);
      const tok = (await hb.admin('POST', `/v1/accounts/${a.id}/staff/alice/token`)).json.token;
      const { default: WebSocket } = await import('ws');
      const dead = new WebSocket(wsUrl(hb.url), { headers: { authorization: `Bearer ${tok}` }, autoPong: false });
      const alive = await openSocket(wsUrl(hb.url), { authorization: `Bearer ${tok}` });
      const deadClosed = new Promise<number>((r) => dead.on('close', (code) => r(code)));
      const code = await deadClosed;
      expect(code).toBe(1006); // terminated, no close handshake
      expect(alive.ws.readyState).toBe(1);
      alive.close();
    } finally {
      await hb.stop();
    }
  });
});

describe('subscriptions follow local listeners', () => {
  it('subscribes an account channel with its first socket and drops it with its last', async () => {
    const a = await createAccount(gw);
    const tok = await staffToken(a.id);
    const channel = gw.bus.channel(a.id);
    expect(channel).toContain(`{${a.id}}`);
    expect(gw.bus.subscribedChannels()).not.toContain(channel);
    const s1 = await connect(tok);
    const s2 = await connect(tok);
    await s1.next((m) => m.type === 'balance');
    await s2.next((m) => m.type === 'balance');
    expect(gw.bus.subscribedChannels().filter((c) => c === channel)).toHaveLength(1);
    s1.close();
    await s1.closed;
    await new Promise((r) => setTimeout(r, 50));
    expect(gw.bus.subscribedChannels()).toContain(channel);
    s2.close();
    await s2.closed;
    await expect.poll(() => gw.bus.subscribedChannels()).not.toContain(channel);
    // Redis agrees: nobody on this instance listens to the channel any more.
    const [, n] = (await gw.redis.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number];
    expect(Number(n)).toBe(0);
  });
});
