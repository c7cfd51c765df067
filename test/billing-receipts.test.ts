// Receipts by e-mail: a real SMTP server (smtp-server) on a local port receives them; an
// outage delays a receipt but never loses it, and never slows or fails the purchase.
import { createServer, type Socket } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { formatDate } from '../src/purchases/receipt-email.js';
import { ADMIN, addCard, api, buy, decodeMail, freePort, staffToken, startSmtp, waitFor, type TestSmtp } from './support/billing.js';
import { createAccount, startTestGateway, uniquePrefix, type TestClock, type TestGateway } from './support/gateway.js';

const FROM = 'minutegate receipts <receipts@minutegate.test>';
const running: { stop(): Promise<void> }[] = [];
const smtps: TestSmtp[] = [];

afterEach(async () => {
  for (const g of running.splice(0).reverse()) await g.stop();
  for (const s of smtps.splice(0)) await s.close();
});
afterAll(async () => {
  for (const s of smtps.splice(0)) await s.close();
});

async function gateway(clock: TestClock, env: Record<string, string>, more: { prefix?: string; keepKeys?: boolean } = {}) {
  const gw = await startTestGateway({ clock, env: { BUNDLE_PRICE_CENTS: '1500', RECEIPT_FROM: FROM, ...env }, ...more });
  running.push(gw);
  return gw;
}

async function account(gw: TestGateway, clock: TestClock, monthlyMinutes = 100) {
  const a = await createAccount(gw, { monthlyMinutes, billingAnchor: new Date(clock.now - 86400_000).toISOString() });
  const token = await staffToken(gw, a.id);
  const card = await addCard(gw, token, a.id, { brand: 'mastercard', last4: '4444' });
  return { ...a, token, card };
}

const purchaseOf = async (gw: TestGateway, accountId: string, purchaseId: string) =>
  (await api(gw, ADMIN, 'GET', `/v1/accounts/${accountId}/purchases/${purchaseId}`)).json;

describe('receipts', () => {
  it('the ordering staff member receives a receipt with the right figures, as text and HTML; the purchase shows it sent', async () => {
    const smtp = await startSmtp();
    smtps.push(smtp);
    const clock: TestClock = { now: Date.UTC(2034, 1, 3, 14, 30, 0) };
    const gw = await gateway(clock, { SMTP_URL: smtp.url });
    const a = await account(gw, clock);

    const p = await buy(gw, a.token, a.id, a.card.id, 2, 'one_time');
    expect(p).toMatchObject({ minutes: 200, amountCents: 3000, balance: { balance: 300 }, receipt: { to: `alice@${a.id}.example`, status: 'queued' } });

    const mail = await waitFor(async () => smtp.mails.find((m) => m.raw.includes(p.purchaseId)));
    expect(mail.to).toEqual([`alice@${a.id}.example`]);
    expect(mail.from).toBe('receipts@minutegate.test');
    const body = decodeMail(mail.raw);
    expect(body).toMatch(/^Subject: Your receipt: 200 minutes added \(\$30\.00, order pur_/m);
    expect(body).toMatch(/Content-Type: text\/plain/);
    expect(body).toMatch(/Content-Type: text\/html/);
    for (const fact of [
      `Order: ${p.purchaseId}`,
      `Date: ${formatDate(clock.now)}`,
      'Purchased: One-time minutes: 200 for this cycle (2 bundles of 100)',
      'Minutes added: 200',
      'Amount: $30.00',
      'Card: Mastercard ending in 4444',
      'Balance after purchase: 300 minutes',
    ]) {
      expect(body).toContain(fact);
    }
    expect(body).toContain('<th align="left">Amount</th><td>$30.00</td>');
    expect(body).toContain('<th align="left">Card</th><td>Mastercard ending in 4444</td>');

    const sent = await waitFor(async () => {
      const r = await purchaseOf(gw, a.id, p.purchaseId);
      return r.receipt.status === 'sent' ? r : null;
    });
    expect(sent.receipt).toMatchObject({ to: `alice@${a.id}.example`, status: 'sent', attempts: 1, sentAt: new Date(clock.now).toISOString() });
    // Exactly one receipt for the purchase.
    await new Promise((r) => setTimeout(r, 600));
    expect(smtp.mails.filter((m) => m.raw.includes(p.purchaseId))).toHaveLength(1);
  });

  it('with the mail server hanging and then gone, the purchase neither waits nor fails; the receipt goes out when SMTP is back', async () => {
    // A "server" that accepts connections and never says a word: the worst kind of outage.
    const port = await freePort();
    const held: Socket[] = [];
    const blackHole = createServer((s) => held.push(s));
    await new Promise<void>((r) => blackHole.listen(port, '127.0.0.1', () => r()));

    const clock: TestClock = { now: Date.UTC(2034, 5, 10, 9, 0, 0) };
    const gw = await gateway(clock, { SMTP_URL: `smtp://127.0.0.1:${port}` });
    const a = await account(gw, clock);
    const started = Date.now();
    const p = await buy(gw, a.token, a.id, a.card.id, 1, 'addon');
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(p).toMatchObject({ minutes: 100, balance: { balance: 200, monthlyMinutes: 200 }, receipt: { status: 'queued' } });
    await waitFor(async () => held.length > 0);

    // The outage gets worse: the server goes away. The send fails and is put off.
    for (const s of held) s.destroy();
    await new Promise<void>((r) => blackHole.close(() => r()));
    const failed = await waitFor(async () => {
      const r = await purchaseOf(gw, a.id, p.purchaseId);
      return r.receipt.attempts >= 1 ? r : null;
    });
    expect(failed.receipt.status).toBe('queued');
    expect(Date.parse(failed.receipt.nextAttemptAt)).toBeGreaterThan(clock.now);

    // SMTP is back on the same address; once the retry is due, the receipt is delivered.
    const smtp = await startSmtp(port);
    smtps.push(smtp);
    await new Promise((r) => setTimeout(r, 700));
    expect(smtp.mails).toHaveLength(0); // backing off: not before its time
    clock.now = Date.parse(failed.receipt.nextAttemptAt);
    const mail = await waitFor(async () => smtp.mails.find((m) => m.raw.includes(p.purchaseId)));
    expect(decodeMail(mail.raw)).toContain('Balance after purchase: 200 minutes');
    const sent = await waitFor(async () => {
      const r = await purchaseOf(gw, a.id, p.purchaseId);
      return r.receipt.status === 'sent' ? r : null;
    });
    expect(sent.receipt.attempts).toBe(failed.receipt.attempts + 1);
  });

  it('without SMTP_URL receipts stay queued, and an instance with SMTP_URL sends them later', async () => {
    const prefix = uniquePrefix('rcpt');
    const clock: TestClock = { now: Date.UTC(2034, 8, 20, 18, 0, 0) };
    const quiet = await gateway(clock, {}, { prefix, keepKeys: true });
    const a = await account(quiet, clock);
    const p = await buy(quiet, ADMIN, a.id, a.card.id, 3, 'one_time');
    expect(p.receipt).toMatchObject({ status: 'queued', to: `alice@${a.id}.example` });
    await new Promise((r) => setTimeout(r, 700));
    expect((await purchaseOf(quiet, a.id, p.purchaseId)).receipt).toMatchObject({ status: 'queued', attempts: 0 });

    const smtp = await startSmtp();
    smtps.push(smtp);
    await gateway(clock, { SMTP_URL: smtp.url }, { prefix });
    const mail = await waitFor(async () => smtp.mails.find((m) => m.raw.includes(p.purchaseId)));
    expect(decodeMail(mail.raw)).toContain('Amount: $45.00');
    await waitFor(async () => (await purchaseOf(quiet, a.id, p.purchaseId)).receipt.status === 'sent');
  });
});
