// Redis over TLS (issue #11): rediss:// URLs and REDIS_TLS=on, trusting the CA bundle of
// REDIS_TLS_CA_FILE (read at start-up), for the command and the subscriber connections —
// against a real redis-server listening with TLS on a certificate made here.
import { writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { createAccount, startTestGateway } from './support/gateway.js';
import { runMain } from './support/run-main.js';
import { startTlsRedis, startTlsRedisCluster, tlsToolsAvailable, type TlsRedis, type TlsRedisCluster } from './support/tls-redis.js';
import { openSocket, wsUrl } from './support/ws-client.js';

const missing = tlsToolsAvailable();
if (missing) console.warn(`Redis TLS tests skipped: ${missing}`);
const PASSWORD = 'tls-redis-pw-71b2c9';

describe.skipIf(missing !== null)('Redis over TLS', () => {
  let srv: TlsRedis;
  beforeAll(async () => {
    srv = await startTlsRedis();
    const admin = new Redis(`redis://127.0.0.1:${srv.port}`);
    await admin.config('SET', 'requirepass', PASSWORD);
    admin.disconnect();
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('rediss:// + REDIS_TLS_CA_FILE + REDIS_PASSWORD: the gateway meters, both connections ready', async () => {
    const gw = await startTestGateway({
      redisUrl: `rediss://127.0.0.1:${srv.tlsPort}`,
      env: { REDIS_TLS_CA_FILE: srv.ca, REDIS_PASSWORD: PASSWORD },
    });
    try {
      const a = await createAccount(gw, { monthlyMinutes: 9 });
      expect((await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json).toMatchObject({ balance: 9 });
      expect(await (await fetch(`${gw.url}/readyz`)).json()).toEqual({ status: 'ready', redis: 'ok', subscriber: 'ok', postgres: 'ok' });
    } finally {
      await gw.stop();
    }
  });

  it('REDIS_TLS=on turns TLS on for a redis:// address', async () => {
    const gw = await startTestGateway({
      redisUrl: `redis://127.0.0.1:${srv.tlsPort}`,
      env: { REDIS_TLS: 'on', REDIS_TLS_CA_FILE: srv.ca, REDIS_PASSWORD: PASSWORD },
    });
    try {
      expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
    } finally {
      await gw.stop();
    }
  });

  it('without the CA bundle the self-signed server is not trusted: start-up fails naming REDIS_URL', async () => {
    const r = await runMain({ PORT: '0', REDIS_URL: `rediss://127.0.0.1:${srv.tlsPort}`, REDIS_PASSWORD: PASSWORD, REDIS_CONNECT_TIMEOUT_SECONDS: '2' });
    expect(r.code).toBe(1);
    expect(r.out).toContain(`REDIS_URL=rediss://127.0.0.1:${srv.tlsPort}`);
    expect(r.out).toMatch(/self[- ]signed certificate/i);
    expect(r.out).toContain('set REDIS_TLS_CA_FILE');
    expect(r.out).not.toContain(PASSWORD);
  });
});

describe.skipIf(missing !== null)('Redis Cluster over TLS (REDIS_TLS=on)', () => {
  let cluster: TlsRedisCluster;
  beforeAll(async () => {
    cluster = await startTlsRedisCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('meters and fans out over TLS to every node, the sharded subscribers included', async () => {
    const gw = await startTestGateway({ clusterNodes: cluster.nodes, env: { REDIS_TLS: 'on', REDIS_TLS_CA_FILE: cluster.ca } });
    try {
      const a = await createAccount(gw, { monthlyMinutes: 6 });
      expect(await (await fetch(`${gw.url}/readyz`)).json()).toEqual({ status: 'ready', redis: 'ok', subscriber: 'ok', postgres: 'ok' });
      const token = (await gw.admin('POST', `/v1/accounts/${a.id}/staff/alice/token`)).json.token;
      const sock = await openSocket(wsUrl(gw.url), { authorization: `Bearer ${token}` });
      try {
        await sock.next((m) => m.type === 'balance');
        await gw.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: 1, reason: 'tls cluster test' });
        expect((await sock.next((m) => m.type === 'balance' && m.balance === 7)).balance).toBe(7);
      } finally {
        sock.close();
      }
    } finally {
      await gw.stop();
    }
  });
});

describe('REDIS_TLS_CA_FILE', () => {
  it('is read at start-up into the settings; set without TLS it draws a warning', () => {
    const pem = join(tmpdir(), `mg-ca-${process.pid}.pem`);
    writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const withTls = loadConfig({ REDIS_URL: 'rediss://127.0.0.1:6380', REDIS_TLS_CA_FILE: pem });
    expect(withTls.redis).toMatchObject({ tls: true, tlsCa: expect.stringContaining('BEGIN CERTIFICATE') });
    expect(withTls.warnings).toEqual([]);
    const without = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_TLS_CA_FILE: pem });
    expect(without.redis.tls).toBe(false);
    expect(without.warnings.join('\n')).toMatch(/REDIS_TLS_CA_FILE is set but TLS is off/);
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_TLS: 'on', REDIS_TLS_CA_FILE: pem }).warnings).toEqual([]);
  });

  it('an unreadable file or one without a PEM certificate is named at start-up', () => {
    const notPem = join(tmpdir(), `mg-not-a-ca-${process.pid}.txt`);
    writeFileSync(notPem, 'hello');
    for (const [file, why] of [['/nonexistent/ca.pem', /cannot read/], [notPem, /no PEM certificate/]] as const) {
      try {
        loadConfig({ REDIS_URL: 'rediss://127.0.0.1:6380', REDIS_TLS_CA_FILE: file });
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        const text = (err as ConfigError).problems.join('\n');
        expect(text).toContain('REDIS_TLS_CA_FILE');
        expect(text).toMatch(why);
      }
    }
  });
});
