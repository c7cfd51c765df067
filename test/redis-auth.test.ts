// Password-protected Redis (requirepass, and an ACL user): the gateway works with the
// right REDIS_PASSWORD / REDIS_USERNAME — commands and the bus's subscriber connection —
// and refuses to start with wrong ones, naming the setting and never printing a password.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayProcess } from './support/gateway-process.js';
import { createAccount, startTestGateway, uniquePrefix } from './support/gateway.js';
import { runMain } from './support/run-main.js';
import { startRedisCluster, type RedisClusterHandle } from './support/redis-cluster.js';
import { redisCommand, startRedisServer, type RedisServerHandle } from './support/redis-server.js';
import { openSocket, wsUrl } from './support/ws-client.js';

const PASSWORD = 'pw-Very$ecret-9f3a7c';
const ACL_USER = 'meter';
const ACL_PASSWORD = 'acl-pw-0b1e77d2c4';
const WRONG = 'wrong-pw-5e8d21aa';

let srv: RedisServerHandle;
beforeAll(async () => {
  srv = await startRedisServer();
  const admin = new Redis(srv.url);
  await admin.call('ACL', 'SETUSER', ACL_USER, 'on', `>${ACL_PASSWORD}`, '~*', '&*', '+@all');
  await admin.config('SET', 'requirepass', PASSWORD);
  admin.disconnect();
});
afterAll(async () => {
  await srv.stop();
});

describe('password-protected Redis', () => {
  it('refuses a client without the password (the server really requires one)', async () => {
    const r = new Redis(srv.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => {});
    await r.connect().catch(() => {});
    await expect(r.get('x')).rejects.toThrow(/NOAUTH|closed/);
    r.disconnect();
  });

  it('works with REDIS_PASSWORD: API, readiness (both connections) and socket fan-out', async () => {
    const gw = await startTestGateway({ redisUrl: srv.url, env: { REDIS_PASSWORD: PASSWORD } });
    try {
      const a = await createAccount(gw, { monthlyMinutes: 7 });
      expect((await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json).toMatchObject({ balance: 7 });
      expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
      expect(gw.bus.connected).toBe(true);
      // The bus subscriber authenticates too: a balance change reaches a socket.
      const sock = await openSocket(wsUrl(gw.url), { authorization: `Bearer ${(await gw.admin('POST', `/v1/accounts/${a.id}/staff/alice/token`)).json.token}` });
      try {
        await sock.next((m) => m.type === 'balance');
        await gw.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: 3, reason: 'auth test' });
        const pushed = await sock.next((m) => m.type === 'balance' && m.balance === 10);
        expect(pushed.balance).toBe(10);
      } finally {
        sock.close();
      }
    } finally {
      await gw.stop();
    }
  });

  it('works with an ACL user (REDIS_USERNAME + REDIS_PASSWORD)', async () => {
    const gw = await startTestGateway({ redisUrl: srv.url, env: { REDIS_USERNAME: ACL_USER, REDIS_PASSWORD: ACL_PASSWORD } });
    try {
      const a = await createAccount(gw, { monthlyMinutes: 4 });
      expect((await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json).toMatchObject({ balance: 4 });
      expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
      expect(await gw.redis.call('ACL', 'WHOAMI')).toBe(ACL_USER);
    } finally {
      await gw.stop();
    }
  });

  it('REDIS_PASSWORD wins over a password written in REDIS_URL', async () => {
    const url = new URL(srv.url);
    url.password = WRONG;
    const gw = await startTestGateway({ redisUrl: url.toString(), env: { REDIS_PASSWORD: PASSWORD } });
    try {
      expect(await (await fetch(`${gw.url}/readyz`)).json()).toEqual({ status: 'ready', redis: 'ok', subscriber: 'ok', postgres: 'ok' });
    } finally {
      await gw.stop();
    }
  });

  it('a process with the right password starts and never prints it', async () => {
    const p = await startGatewayProcess(uniquePrefix('auth'), { REDIS_URL: srv.url, REDIS_PASSWORD: PASSWORD, LOG_LEVEL: 'debug' });
    try {
      expect((await fetch(`${p.url}/readyz`)).status).toBe(200);
    } finally {
      await p.stop();
    }
    expect(p.output()).not.toContain(PASSWORD);
  });

  it('a wrong password stops start-up at once, naming REDIS_PASSWORD, never printing it', async () => {
    const r = await runMain({ PORT: '0', REDIS_URL: srv.url, REDIS_PASSWORD: WRONG, REDIS_CONNECT_TIMEOUT_SECONDS: '30' });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/refused the credentials/);
    expect(r.out).toContain('REDIS_PASSWORD');
    expect(r.out).not.toContain(WRONG);
  });

  it('a password in the URL is never printed either', async () => {
    const url = new URL(srv.url);
    url.password = WRONG;
    const r = await runMain({ PORT: '0', REDIS_URL: url.toString(), REDIS_CONNECT_TIMEOUT_SECONDS: '30' });
    expect(r.code).toBe(1);
    expect(r.out).toContain('REDIS_PASSWORD');
    expect(r.out).not.toContain(WRONG);
  });

  it('a wrong ACL user names REDIS_USERNAME', async () => {
    const r = await runMain({ PORT: '0', REDIS_URL: srv.url, REDIS_USERNAME: 'nobody', REDIS_PASSWORD: ACL_PASSWORD });
    expect(r.code).toBe(1);
    expect(r.out).toContain('REDIS_USERNAME=nobody');
    expect(r.out).not.toContain(ACL_PASSWORD);
  });

  it('no password at all says REDIS_PASSWORD must be set', async () => {
    const r = await runMain({ PORT: '0', REDIS_URL: srv.url });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/requires a password.*set REDIS_PASSWORD/);
  });
});

describe('password-protected Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startRedisCluster();
    for (const n of cluster.nodes) await redisCommand(n.port, ['CONFIG', 'SET', 'requirepass', PASSWORD]);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('REDIS_PASSWORD reaches every node: commands and the sharded subscribers', async () => {
    const gw = await startTestGateway({ clusterNodes: cluster.nodes, env: { REDIS_PASSWORD: PASSWORD } });
    try {
      const a = await createAccount(gw, { monthlyMinutes: 5 });
      expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
      const token = (await gw.admin('POST', `/v1/accounts/${a.id}/staff/alice/token`)).json.token;
      const sock = await openSocket(wsUrl(gw.url), { authorization: `Bearer ${token}` });
      try {
        await sock.next((m) => m.type === 'balance');
        await gw.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: 2, reason: 'cluster auth test' });
        expect((await sock.next((m) => m.type === 'balance' && m.balance === 7)).balance).toBe(7);
      } finally {
        sock.close();
      }
    } finally {
      await gw.stop();
    }
  });

  it('a wrong password stops start-up naming REDIS_PASSWORD', async () => {
    const r = await runMain({
      PORT: '0',
      REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','),
      REDIS_PASSWORD: WRONG,
      REDIS_CONNECT_TIMEOUT_SECONDS: '5',
    });
    expect(r.code).toBe(1);
    expect(r.out).toContain('REDIS_PASSWORD');
    expect(r.out).not.toContain(WRONG);
  });
});
