// The billing flow on a local 3-master Redis Cluster: every billing script touches one
// slot (the account's `{accountId}` tag) or one global key, so the gateway runs unchanged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cycleContaining } from '../src/domain/cycle.js';
import { addCard, buy, confirm, decodeMail, quote, staffToken, startSmtp, waitFor, type TestSmtp } from './support/billing.js';
import { createAccount, startTestGateway, type TestClock, type TestGateway } from './support/gateway.js';
import { startRedisCluster, type RedisClusterHandle } from './support/redis-cluster.js';

const clock: TestClock = { now: Date.UTC(2035, 3, 12, 10, 0, 0) };
let cluster: RedisClusterHandle;
let smtp: TestSmtp;
let gw: TestGateway;

beforeAll(async () => {
  cluster = await startRedisCluster();
  smtp = await startSmtp();
  gw = await startTestGateway({ clusterNodes: cluster.nodes, clock, env: { SMTP_URL: smtp.url } });
});
afterAll(async () => {
  await gw?.stop();
  await smtp?.close();
  await cluster?.stop();
});

describe('billing on Redis Cluster', () => {
  it('plan, card, quote, purchase (and its replay), receipt, charges and a scheduled reset', async () => {
    const anchor = clock.now - 2 * 86400_000;
    const a = await createAccount(gw, { monthlyMinutes: 100, billingAnchor: new Date(anchor).toISOString() });
    const token = await staffToken(gw, a.id);
    expect((await gw.admin('PATCH', `/v1/accounts/${a.id}/plan`, { monthlyMinutes: 150 })).json).toMatchObject({ creditedMinutes: 50 });
    const card = await addCard(gw, token, a.id);

    const q = await quote(gw, token, a.id, 1, 'one_time');
    const first = await confirm(gw, token, a.id, { quoteId: q.quoteId, paymentMethodId: card.id }, 'order-1');
    const again = await confirm(gw, token, a.id, { quoteId: q.quoteId, paymentMethodId: card.id }, 'order-1');
    expect(first.status).toBe(201);
    expect(again.json).toEqual(first.json);
    expect(first.json.balance).toMatchObject({ balance: 250, monthlyMinutes: 150 });
    await buy(gw, token, a.id, card.id, 1, 'addon');

    const mail = await waitFor(async () => smtp.mails.find((m) => m.raw.includes(first.json.purchaseId)));
    expect(decodeMail(mail.raw)).toContain('Balance after purchase: 250 minutes');
    expect((await gw.admin('GET', `/v1/accounts/${a.id}/charges`)).json.totalCents).toBe(3000);

    // The scheduler resets the account on its own and schedules the next cycle end.
    const end = cycleContaining(anchor, clock.now).end;
    const dueKey = `${gw.config.redis.prefix}:cycles:due`;
    expect(Number(await gw.redis.zscore(dueKey, a.id))).toBe(end);
    clock.now = end;
    const next = cycleContaining(anchor, end).end;
    await waitFor(async () => Number(await gw.redis.zscore(dueKey, a.id)) === next);
    expect((await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json).toMatchObject({ balance: 250, monthlyMinutes: 250, usedThisCycle: 0 });
    const resets = (await gw.admin('GET', `/v1/accounts/${a.id}/ledger?limit=100`)).json.entries.filter((e: any) => e.kind === 'cycle_reset');
    expect(resets).toHaveLength(2);
  });
});
