// The billing flow on a local 3-master Redis Cluster: every billing script touches one
// slot (the account's `{accountId}` tag) or one global key, so the gateway runs unchanged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cycleContaining } from '../src/domain/cycle.js';
import { addCard, buy, confirm, decodeMail, quote, staffToken, startSmtp, waitFor, type TestSmtp } from './support/billing.js';
import { createAccount, startTestGateway, type TestClock, type TestGateway } from './support/gateway.js';
import { sharedRedisCluster } from './support/shared-cluster.js';

const clock: TestClock = { now: Date.UTC(2035, 3, 12, 10, 0, 0) };
let smtp: TestSmtp;
let gw: TestGateway;

beforeAll(async () => {
  smtp = await startSmtp();
  gw = await startTestGateway({ clusterNodes: sharedRedisCluster(), clock, env: { SMTP_URL: smtp.url } });
});
afterAll(async () => {
  await gw?.stop();
  await smtp?.close();
});

describe('billing on Redis Cluster', () => {
  it('plan, card, quote, purchase (and its replay), receipt, add-ons (one ended), charges and a scheduled reset', async () => {
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
    const kept = await buy(gw, token, a.id, card.id, 1, 'addon');
    const ended = await buy(gw, token, a.id, card.id, 1, 'addon');
    const end = await gw.as(token, 'DELETE', `/v1/accounts/${a.id}/addons/${ended.purchaseId}`);
    expect(end.status).toBe(200);
    expect((await gw.as(token, 'GET', `/v1/accounts/${a.id}/addons`)).json).toMatchObject({
      addons: [{ purchaseId: kept.purchaseId }],
      ending: [{ purchaseId: ended.purchaseId }],
    });

    const mail = await waitFor(async () => smtp.mails.find((m) => m.raw.includes(first.json.purchaseId)));
    expect(decodeMail(mail.raw)).toContain('Balance after purchase: 250 minutes');
    expect((await gw.admin('GET', `/v1/accounts/${a.id}/charges`)).json.totalCents).toBe(4500);

    // The scheduler resets the account on its own and schedules the next cycle end; the
    // ended add-on leaves the allowance and the bill there.
    const cycleEnd = cycleContaining(anchor, clock.now).end;
    const dueKey = `${gw.config.redis.prefix}:cycles:due`;
    expect(Number(await gw.redis.zscore(dueKey, a.id))).toBe(cycleEnd);
    clock.now = cycleEnd;
    const next = cycleContaining(anchor, cycleEnd).end;
    await waitFor(async () => Number(await gw.redis.zscore(dueKey, a.id)) === next);
    expect((await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json).toMatchObject({
      balance: 250, planMinutes: 150, addonMinutes: 100, monthlyMinutes: 250, usedThisCycle: 0,
    });
    expect((await gw.admin('GET', `/v1/accounts/${a.id}/charges`)).json.lines).toEqual([
      expect.objectContaining({ purchaseId: kept.purchaseId, recurring: true }),
    ]);
    const resets = (await gw.admin('GET', `/v1/accounts/${a.id}/ledger?limit=100`)).json.entries.filter((e: any) => e.kind === 'cycle_reset');
    expect(resets).toHaveLength(2);
  });
});
