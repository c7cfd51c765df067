// Low-balance alerts: settings per account; a threshold crossed downwards (a debit, an
// adjustment) raises it once per cycle — a socket frame, an e-mail to the staff at a real
// SMTP server, and a signed webhook retried until it gets a 2xx — and a rise re-arms it.
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { decodeMail, startSmtp, waitFor, type TestSmtp } from './support/billing.js';
import { callSid, createAccount, startTestGateway, type TestGateway } from './support/gateway.js';
import { childLegEvent, dialAction, placeSoftphoneCall, postAll } from './support/calls.js';
import { openSocket, type TestSocket } from './support/ws-client.js';

const SECRET = 'alert-webhook-secret-0123456789';
let gw: TestGateway;
let smtp: TestSmtp;
let hooks: Server;
const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
/** Answers the next N webhook requests with 500 (a receiver outage). */
let failNext = 0;

beforeAll(async () => {
  smtp = await startSmtp();
  hooks = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      if (failNext > 0) {
        failNext -= 1;
        res.writeHead(500).end('down');
      } else res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
  gw = await startTestGateway({
    env: {
      SMTP_URL: smtp.url,
      ALERT_WEBHOOK_URL: `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hooks`,
      ALERT_WEBHOOK_SECRET: SECRET,
    },
  });
});
afterAll(async () => {
  await gw.stop();
  await smtp.close();
  await new Promise((r) => hooks.close(r));
});

async function staffSocket(accountId: string): Promise<TestSocket> {
  const token = (await gw.admin('POST', `/v1/accounts/${accountId}/staff/alice/token`)).json.token;
  const s = await openSocket(`${gw.url.replace('http', 'ws')}/v1/ws?token=${token}`);
  await s.next((m) => m.type === 'balance');
  return s;
}

async function talk(identity: string, seconds: number) {
  const call = await placeSoftphoneCall(gw, identity);
  const leg = callSid();
  await postAll(gw, [childLegEvent(call.callSid, leg, 3, 'completed', seconds), dialAction(call.callSid, leg, 'completed', seconds)]);
}

it('has default settings (10% of the plan, and 0) and validates new ones; staff of another account may not touch them', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 250 });
  expect((await gw.admin('GET', `/v1/accounts/${a.id}/alerts`)).json).toEqual({ thresholdsMinutes: [25, 0], email: true, webhook: true });
  const bad = await gw.admin('PUT', `/v1/accounts/${a.id}/alerts`, { thresholdsMinutes: [-1], email: 'yes' });
  expect(bad.status).toBe(400);
  expect(JSON.stringify(bad.json)).toMatch(/thresholdsMinutes|email/);
  const put = await gw.admin('PUT', `/v1/accounts/${a.id}/alerts`, { thresholdsMinutes: [5, 50, 0], email: false, webhook: true });
  expect(put.status).toBe(200);
  expect(put.json).toEqual({ thresholdsMinutes: [50, 5, 0], email: false, webhook: true });
  const b = await createAccount(gw);
  const other = (await gw.admin('POST', `/v1/accounts/${b.id}/staff/alice/token`)).json.token;
  expect((await gw.as(other, 'GET', `/v1/accounts/${a.id}/alerts`)).status).toBe(403);
  expect((await gw.as(other, 'PUT', `/v1/accounts/${b.id}/alerts`, { thresholdsMinutes: [7] })).status).toBe(200);
  expect((await gw.admin('GET', '/v1/accounts/nobody-here/alerts')).status).toBe(404);
});

it('raises low and exhausted once each per cycle, on the socket, by e-mail and by a signed webhook retried until 2xx; a rise re-arms', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 100 });
  const s = await staffSocket(a.id);
  await gw.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: -85, reason: 'used elsewhere' });
  failNext = 1; // the receiver is down for the first try

  await talk(a.identity, 6 * 60); // 15 → 9: crosses 10
  const low = await s.next((m) => m.type === 'alert');
  expect(low).toMatchObject({ type: 'alert', level: 'low', available: 9, threshold: 10, accountId: a.id });
  expect(Date.parse(low.cycleStart)).toBe(Date.parse((await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json.cycleStart));

  // The e-mail reaches the staff at the SMTP server.
  const mail = await waitFor(async () => smtp.mails.find((m) => m.raw.includes(low.id)));
  expect(mail.to).toEqual([`alice@${a.id}.example`]);
  expect(decodeMail(mail.raw)).toMatch(/low on minutes \(9 left\)/);

  // The webhook: refused once, then delivered (5 s later); every try is the same, correctly signed body.
  const hooked = await waitFor(async () => (received.filter((r) => r.body.includes(low.id)).length >= 2 ? received.filter((r) => r.body.includes(low.id)) : undefined), 30_000);
  for (const r of hooked) {
    const sig = String(r.headers['minutegate-signature']);
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig);
    expect(m).not.toBeNull();
    expect(m![2]).toBe(createHmac('sha256', SECRET).update(`${m![1]}.${r.body}`).digest('hex'));
    expect(JSON.parse(r.body)).toEqual({ type: 'balance.low', id: low.id, accountId: a.id, available: 9, threshold: 10, cycleStart: low.cycleStart, at: expect.any(String) });
  }

  // Further down: no second "low" — then "exhausted" at 0.
  await talk(a.identity, 5 * 60); // 9 → 4
  await talk(a.identity, 9 * 60); // 4 → 0 (+5 overage)
  const out = await s.next((m) => m.type === 'alert' && m.level === 'exhausted');
  expect(out).toMatchObject({ threshold: 0, available: 0 });
  // (next() takes what it returns off the list: no other "low" came.)
  expect(s.messages.filter((m) => m.type === 'alert' && m.level === 'low')).toHaveLength(0);
  await waitFor(async () => received.find((r) => r.body.includes(out.id) && r.body.includes('balance.exhausted')));

  // Minutes added: both re-armed; crossing 10 again raises "low" again, with a new id.
  await gw.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: 30, reason: 'top-up' });
  await talk(a.identity, 22 * 60); // 30 → 8
  const again = await s.next((m) => m.type === 'alert' && m.level === 'low' && m.id !== low.id);
  expect(again).toMatchObject({ available: 8, threshold: 10 });
  s.close();
}, 60_000);

it('does not raise on a new threshold already under the balance, and follows an account’s own thresholds', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 100 });
  await gw.admin('PUT', `/v1/accounts/${a.id}/alerts`, { thresholdsMinutes: [95, 40], email: false, webhook: false });
  const s = await staffSocket(a.id);
  await talk(a.identity, 3 * 60); // 100 → 97: nothing
  await talk(a.identity, 3 * 60); // 97 → 94: crosses 95
  expect(await s.next((m) => m.type === 'alert')).toMatchObject({ level: 'low', threshold: 95, available: 94 });
  await new Promise((r) => setTimeout(r, 300));
  expect(s.messages.filter((m) => m.type === 'alert')).toHaveLength(0);
  s.close();
});

it('an alert announced while no instance listened is found and delivered: the sweep at start-up queues kept alerts', async () => {
  // An instance of its own on a prefix of its own, whose dispatcher stops listening.
  const deaf = await startTestGateway({ keepKeys: true, env: { SMTP_URL: smtp.url } });
  try {
    const a = await createAccount(deaf, { monthlyMinutes: 100 });
    await deaf.alerts.stop(); // its subscriber is gone: nobody hears the announcement
    await deaf.admin('POST', `/v1/accounts/${a.id}/adjustments`, { minutes: -95, reason: 'used elsewhere' }); // 100 → 5: crosses 10
    const kept = await deaf.store.readPool(a.id, Date.now());
    expect(kept?.balance).toBe(5);
    await new Promise((r) => setTimeout(r, 300));
    expect(smtp.mails.some((m) => m.to.includes(`alice@${a.id}.example`))).toBe(false);

    // Another instance starts on the same keys: its sweep queues the kept alert, and it is mailed.
    const next = await startTestGateway({ prefix: deaf.config.redis.prefix, env: { SMTP_URL: smtp.url } });
    try {
      const mail = await waitFor(async () => smtp.mails.find((m) => m.to.includes(`alice@${a.id}.example`)));
      expect(decodeMail(mail.raw)).toMatch(/low on minutes \(5 left\)/);
      // Delivered once: a second sweep finds nothing left to queue.
      await waitFor(async () => ((await next.alerts.sweep()) === 0 ? true : undefined));
    } finally {
      await next.stop();
    }
  } finally {
    await deaf.stop();
  }
});
