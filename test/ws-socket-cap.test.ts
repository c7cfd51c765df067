// Issue #16 item 1: sockets per staff member are bounded on each instance
// (WS_MAX_SOCKETS_PER_STAFF); the next upgrade is refused before the handshake with 429
// TOO_MANY_SOCKETS, and a closed socket frees its slot.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, startTestGateway, TEST_ADMIN_KEY, type TestGateway } from './support/gateway.js';
import { openSocket, wsUrl, type TestSocket } from './support/ws-client.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ env: { WS_MAX_SOCKETS_PER_STAFF: '3' } });
});
afterAll(async () => {
  await gw.stop();
});

const tokenOf = async (g: TestGateway, id: string, staff = 'alice') =>
  (await g.admin('POST', `/v1/accounts/${id}/staff/${staff}/token`)).json.token as string;
const connect = (g: TestGateway, token: string) => openSocket(wsUrl(g.url), { authorization: `Bearer ${token}` });
const refusal = (p: Promise<TestSocket>) =>
  p.then(
    (s) => {
      s.close();
      throw new Error('the upgrade was accepted');
    },
    (err: { status?: number; body?: string }) => ({ status: err.status, body: err.body ? JSON.parse(err.body) : null }),
  );

describe('WS_MAX_SOCKETS_PER_STAFF', () => {
  it('refuses the next upgrade of a staff member with 429 TOO_MANY_SOCKETS; a closed socket frees its slot', async () => {
    const a = await createAccount(gw);
    const token = await tokenOf(gw, a.id);
    const open = [await connect(gw, token), await connect(gw, token), await connect(gw, token)];
    const refused = await refusal(connect(gw, token));
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: { code: 'TOO_MANY_SOCKETS', message: expect.stringContaining('3') } });
    // A new token of the same staff member is the same staff member.
    expect((await refusal(connect(gw, await tokenOf(gw, a.id)))).status).toBe(429);
    // Another staff member of the account has slots of their own, and so has the operator.
    expect((await gw.admin('POST', `/v1/accounts/${a.id}/staff`, { id: 'bob', email: 'bob@x.example', identity: `${a.id}_bob` })).status).toBe(201);
    const bob = await connect(gw, await tokenOf(gw, a.id, 'bob'));
    const admins = await Promise.all([0, 1, 2, 3].map(() => connect(gw, TEST_ADMIN_KEY)));
    // The open sockets still work.
    open[0]!.send({ type: 'ping', requestId: 'p' });
    expect(await open[0]!.next((m) => m.type === 'pong')).toBeTruthy();

    open[0]!.close();
    await open[0]!.closed;
    const again = await connect(gw, token);
    expect((await refusal(connect(gw, token))).status).toBe(429);
    for (const s of [...open.slice(1), again, bob, ...admins]) s.close();
  });

  it('concurrent upgrades never open more than the bound', async () => {
    const a = await createAccount(gw);
    const token = await tokenOf(gw, a.id);
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => connect(gw, token)));
    const opened = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    // A socket that lost the race after its handshake is closed by the gateway at once.
    await expect.poll(() => opened.filter((s) => s.ws.readyState === s.ws.OPEN).length).toBe(3);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as { status?: number }).status).toBe(429);
    for (const s of opened) s.close();
    await Promise.all(opened.map((s) => s.closed));
    const next = await connect(gw, token);
    next.close();
  });

  it('is a setting: 20 by default, 1..100000', async () => {
    const { loadConfig } = await import('../src/config.js');
    expect(loadConfig({}).ws.maxSocketsPerStaff).toBe(20);
    expect(loadConfig({ WS_MAX_SOCKETS_PER_STAFF: '100000' }).ws.maxSocketsPerStaff).toBe(100_000);
    expect(() => loadConfig({ WS_MAX_SOCKETS_PER_STAFF: '0' })).toThrow(/WS_MAX_SOCKETS_PER_STAFF/);
    expect(() => loadConfig({ WS_MAX_SOCKETS_PER_STAFF: '100001' })).toThrow(/WS_MAX_SOCKETS_PER_STAFF/);
  });
});
