// Cards on file, quotes and purchases of 100-minute bundles (R10) through the real API,
// on a real Redis with this run's prefix, on a clock the tests move by hand.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, addCard, api, buy, CARD, confirm, quote, staffToken } from './support/billing.js';
import { createAccount, startTestGateway, type TestClock, type TestGateway } from './support/gateway.js';

const PRICE = 1500;
const clock: TestClock = { now: Date.UTC(2030, 4, 10, 9, 0, 0) };
const logLines: string[] = [];
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ clock, env: { BUNDLE_PRICE_CENTS: String(PRICE) }, log: (l) => logLines.push(l) });
});
afterAll(async () => {
  await gw.stop();
});

const balance = async (id: string) => (await gw.admin('GET', `/v1/accounts/${id}/balance`)).json;
const ledger = async (id: string) => (await gw.admin('GET', `/v1/accounts/${id}/ledger?limit=500`)).json.entries as any[];

async function setup(monthlyMinutes = 100) {
  const a = await createAccount(gw, { monthlyMinutes, billingAnchor: new Date(clock.now - 5 * 86400_000).toISOString() });
  const token = await staffToken(gw, a.id);
  const card = await addCard(gw, token, a.id);
  return { ...a, token, card };
}

/** Every value stored under this run's prefix, as text. */
async function everyStoredValue(): Promise<string[]> {
  const redis = gw.redis as any;
  const prefix = gw.config.redis.prefix;
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const k of keys as string[]) {
      out.push(k);
      const type = await redis.type(k);
      if (type === 'string') out.push(await redis.get(k));
      else if (type === 'hash') out.push(JSON.stringify(await redis.hgetall(k)));
      else if (type === 'zset') out.push(JSON.stringify(await redis.zrange(k, 0, -1, 'WITHSCORES')));
      else if (type === 'set') out.push(JSON.stringify(await redis.smembers(k)));
      else if (type === 'list') out.push(JSON.stringify(await redis.lrange(k, 0, -1)));
      else if (type === 'stream') out.push(JSON.stringify(await redis.xrange(k, '-', '+')));
    }
  } while (cursor !== '0');
  return out;
}

describe('cards on file', () => {
  it('keeps a processor token with brand, last4 and expiry; lists and removes it; never shows the token', async () => {
    const a = await createAccount(gw);
    const token = await staffToken(gw, a.id);
    const r = await api(gw, token, 'POST', `/v1/accounts/${a.id}/payment-methods`, { ...CARD, brand: 'Visa' });
    expect(r.status).toBe(201);
    expect(r.json).toEqual({ id: expect.stringMatching(/^pm_/), brand: 'visa', last4: '4242', expMonth: 12, expYear: 2099, expired: false });
    const list = await api(gw, token, 'GET', `/v1/accounts/${a.id}/payment-methods`);
    expect(list.json.paymentMethods).toEqual([r.json]);
    expect(JSON.stringify(list.json)).not.toContain(CARD.processorToken);

    expect((await api(gw, token, 'DELETE', `/v1/accounts/${a.id}/payment-methods/${r.json.id}`)).status).toBe(204);
    expect((await api(gw, token, 'GET', `/v1/accounts/${a.id}/payment-methods`)).json.paymentMethods).toEqual([]);
    const again = await api(gw, token, 'DELETE', `/v1/accounts/${a.id}/payment-methods/${r.json.id}`);
    expect(again.status).toBe(404);
    expect(again.json.error.code).toBe('PAYMENT_METHOD_NOT_FOUND');
  });

  it('adds a card once per Idempotency-Key: a retry gets the same card, another card under the key is refused', async () => {
    const a = await createAccount(gw);
    const token = await staffToken(gw, a.id);
    const path = `/v1/accounts/${a.id}/payment-methods`;
    const key = { 'idempotency-key': 'card-3f2a9c' };
    const first = await api(gw, token, 'POST', path, CARD, key);
    expect(first.status).toBe(201);
    const retry = await api(gw, token, 'POST', path, CARD, key);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.json).toEqual(first.json);
    const other = await api(gw, token, 'POST', path, { ...CARD, last4: '1881', processorToken: 'tok_other_1' }, key);
    expect(other.status).toBe(422);
    expect(other.json.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await api(gw, token, 'POST', path, CARD, { 'idempotency-key': 'bad key with spaces' })).status).toBe(400);
    // Without a key, every request is a new card (as before).
    await api(gw, token, 'POST', path, CARD);
    expect((await api(gw, token, 'GET', path)).json.paymentMethods).toHaveLength(2);
  });

  it('refuses an expired card', async () => {
    const a = await createAccount(gw);
    const d = new Date(clock.now);
    const lastMonth = { expMonth: d.getUTCMonth() === 0 ? 12 : d.getUTCMonth(), expYear: d.getUTCMonth() === 0 ? d.getUTCFullYear() - 1 : d.getUTCFullYear() };
    const r = await gw.admin('POST', `/v1/accounts/${a.id}/payment-methods`, { ...CARD, ...lastMonth });
    expect(r.status).toBe(422);
    expect(r.json.error.code).toBe('CARD_EXPIRED');
    // This month's card is still good.
    const thisMonth = await gw.admin('POST', `/v1/accounts/${a.id}/payment-methods`, { ...CARD, expMonth: d.getUTCMonth() + 1, expYear: d.getUTCFullYear() });
    expect(thisMonth.status).toBe(201);
  });

  it('refuses raw card numbers in any field and any spelling, and stores or logs none of them', async () => {
    const a = await createAccount(gw);
    const b = await createAccount(gw);
    const PAN = '4000056655665556'; // a network test number, used nowhere else in this run
    const AMEX = '371449635398431';
    const bodies: unknown[] = [
      { ...CARD, processorToken: PAN },
      { ...CARD, processorToken: `tok_${PAN}` },
      { ...CARD, brand: '4000 0566 5566 5556' },
      { ...CARD, last4: '4000-0566-5566-5556' },
      { ...CARD, note: `card ${PAN.slice(0, 8)} ${PAN.slice(8)} exp 12/30` },
      { ...CARD, cardNumber: Number(PAN) },
      { ...CARD, processorToken: `x${AMEX}y` },
      { ...CARD, [PAN]: true },
      // JSON escapes hide the digits from the raw text; the decoded body still has them.
      `{"processorToken":"${[...PAN].map((c) => `\\u00${c.charCodeAt(0).toString(16)}`).join('')}","brand":"visa","last4":"5556","expMonth":1,"expYear":2099}`,
      // Not even valid JSON: still refused as a card number, not echoed as a parse error.
      `{"processorToken": ${PAN}`,
      // Issue #16: dots, underscores, colons and slashes between the groups (the token's own
      // pattern allows '.', '_' and ':'), mixed, in every field and in a field of its own.
      ...['.', '_', ':', '/', ' . ', '._'].map((sep) => ({ ...CARD, processorToken: PAN.match(/\d{4}/g)!.join(sep) })),
      { ...CARD, processorToken: `tok_${PAN.slice(0, 4)}.${PAN.slice(4, 8)}-${PAN.slice(8, 12)}_${PAN.slice(12)}` },
      { ...CARD, processorToken: `${AMEX.slice(0, 4)}.${AMEX.slice(4, 10)}.${AMEX.slice(10)}` },
      { ...CARD, brand: PAN.match(/\d{4}/g)!.join(':') },
      { ...CARD, last4: PAN.match(/\d{4}/g)!.join('_') },
      { ...CARD, label: `card ${PAN.match(/\d{4}/g)!.join('/')}` },
      { ...CARD, [PAN.match(/\d{4}/g)!.join('.')]: true },
    ];
    for (const body of bodies) {
      const r = await gw.admin('POST', `/v1/accounts/${a.id}/payment-methods`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.code).toBe('RAW_CARD_NUMBER');
      expect(JSON.stringify(r.json)).not.toContain(PAN.slice(4, 12));
    }
    // Through a staff token and on the other billing bodies too.
    const token = await staffToken(gw, a.id);
    const q = await api(gw, token, 'POST', `/v1/accounts/${a.id}/purchases/quote`, { bundles: 1, kind: 'one_time', card: PAN });
    expect(q.json.error.code).toBe('RAW_CARD_NUMBER');

    expect((await gw.admin('GET', `/v1/accounts/${a.id}/payment-methods`)).json.paymentMethods).toEqual([]);
    // Processors' tokens, separators and all, are still taken.
    for (const processorToken of ['pm_1NirD82eZvKYlo2CIvbtLWuY', 'tok_1MvoA2LkdIwHu7ix.v2:a_b-c', 'card_2030_12_31']) {
      const ok = await gw.admin('POST', `/v1/accounts/${b.id}/payment-methods`, { ...CARD, processorToken });
      expect(ok.status, processorToken).toBe(201);
    }
    const stored = await everyStoredValue();
    expect(stored.length).toBeGreaterThan(0);
    for (const v of stored) {
      expect(v).not.toContain(PAN);
      expect(v.replace(/\D/g, '')).not.toContain(PAN);
      expect(v).not.toContain(AMEX);
    }
    const logs = logLines.join('');
    expect(logs).toContain('raw card number'); // the refusals were logged, as facts only
    expect(logs).not.toContain(PAN);
    expect(logs.replace(/\D/g, '')).not.toContain(PAN);
    expect(logs).not.toContain(AMEX);
  });
});

describe('quotes', () => {
  it('prices bundles of 100 minutes, names the billing date, and expires after 15 minutes', async () => {
    const a = await setup();
    const b = await balance(a.id);
    const r = await api(gw, a.token, 'POST', `/v1/accounts/${a.id}/purchases/quote`, { bundles: 3, kind: 'addon' });
    expect(r.status).toBe(201);
    expect(r.json).toEqual({
      quoteId: expect.stringMatching(/^quo_/),
      kind: 'addon',
      bundles: 3,
      minutes: 300,
      amountCents: 3 * PRICE,
      currency: 'USD',
      billedOn: b.cycleEnd,
      expiresAt: new Date(clock.now + 15 * 60_000).toISOString(),
    });
    // A quote changes nothing in the pool.
    expect((await balance(a.id)).balance).toBe(100);
  });
});

describe('purchases', () => {
  it('credits the minutes at once, records the ledger entry and the charge, and queues the receipt', async () => {
    const a = await setup(100);
    const q = await quote(gw, a.token, a.id, 2, 'one_time');
    const r = await confirm(gw, a.token, a.id, { quoteId: q.quoteId, paymentMethodId: a.card.id });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({
      purchaseId: expect.stringMatching(/^pur_/),
      kind: 'one_time',
      bundles: 2,
      minutes: 200,
      amountCents: 2 * PRICE,
      currency: 'USD',
      paymentMethod: { brand: 'visa', last4: '4242' },
      orderedBy: 'alice',
      balance: { accountId: a.id, balance: 300, available: 300, monthlyMinutes: 100 },
      // No SMTP_URL in this gateway: the receipt waits in the outbox.
      receipt: { to: `alice@${a.id}.example`, status: 'queued' },
    });
    expect(JSON.stringify(r.json)).not.toContain(CARD.processorToken);
    expect(await balance(a.id)).toMatchObject({ balance: 300, monthlyMinutes: 100 });
    const entries = (await ledger(a.id)).filter((e) => e.kind === 'purchase');
    expect(entries).toEqual([
      expect.objectContaining({ minutes: 200, balanceAfter: 300, ref: r.json.purchaseId, purchaseKind: 'one_time', bundles: 2, amountCents: 3000 }),
    ]);
    const got = await api(gw, a.token, 'GET', `/v1/accounts/${a.id}/purchases/${r.json.purchaseId}`);
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({ purchaseId: r.json.purchaseId, minutes: 200, receipt: { status: 'queued' } });

    const charges = await api(gw, a.token, 'GET', `/v1/accounts/${a.id}/charges`);
    expect(charges.status).toBe(200);
    expect(charges.json).toMatchObject({
      cycleStart: r.json.balance.cycleStart,
      cycleEnd: r.json.balance.cycleEnd,
      totalCents: 3000,
      currency: 'USD',
      lines: [
        {
          kind: 'one_time',
          recurring: false,
          description: expect.stringContaining('200'),
          minutes: 200,
          amountCents: 3000,
          at: new Date(clock.now).toISOString(),
          purchaseId: r.json.purchaseId,
        },
      ],
    });
  });

  it('an addon also raises the monthly allowance from now on', async () => {
    const a = await setup(100);
    const p = await buy(gw, a.token, a.id, a.card.id, 1, 'addon');
    expect(p.balance).toMatchObject({ balance: 200, monthlyMinutes: 200 });
    expect(await balance(a.id)).toMatchObject({ balance: 200, monthlyMinutes: 200 });
  });

  it('the same Idempotency-Key and body answers with the first purchase and credits nothing more', async () => {
    const a = await setup(100);
    const q = await quote(gw, a.token, a.id, 1, 'one_time');
    const key = randomUUID();
    const first = await confirm(gw, a.token, a.id, { quoteId: q.quoteId, paymentMethodId: a.card.id }, key);
    const second = await confirm(gw, a.token, a.id, { quoteId: q.quoteId, paymentMethodId: a.card.id }, key);
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.json).toEqual(first.json);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect((await balance(a.id)).balance).toBe(200);

    // The same key with another body is refused, and buys nothing.
    const q2 = await quote(gw, a.token, a.id, 1, 'one_time');
    const other = await confirm(gw, a.token, a.id, { quoteId: q2.quoteId, paymentMethodId: a.card.id }, key);
    expect(other.status).toBe(422);
    expect(other.json.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    // So is the same body ordered by someone else (the admin for another staff member).
    await gw.admin('POST', `/v1/accounts/${a.id}/staff`, { id: 'bob', email: `bob@${a.id}.example`, identity: `${a.id}_bob` });
    const asBob = await confirm(gw, ADMIN, a.id, { quoteId: q.quoteId, paymentMethodId: a.card.id, staffId: 'bob' }, key);
    expect(asBob.status).toBe(422);
    expect((await balance(a.id)).balance).toBe(200);
  });

  it('ten racing requests with one key buy once and all get the first answer', async () => {
    const a = await setup(100);
    const q = await quote(gw, a.token, a.id, 4, 'addon');
    const key = randomUUID();
    const replies = await Promise.all(
      Array.from({ length: 10 }, () => confirm(gw, a.token, a.id, { quoteId: q.quoteId, paymentMethodId: a.card.id }, key)),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(10).fill(201));
    for (const r of replies) expect(r.json).toEqual(replies[0]!.json);
    expect(replies.filter((r) => r.headers.get('idempotent-replayed') === null)).toHaveLength(1);
    expect(await balance(a.id)).toMatchObject({ balance: 500, monthlyMinutes: 500 });
    expect((await ledger(a.id)).filter((e) => e.kind === 'purchase')).toHaveLength(1);
    expect((await api(gw, a.token, 'GET', `/v1/accounts/${a.id}/charges`)).json.lines).toHaveLength(1);
  });

  it('ten racing requests with different keys for one quote buy once; the others hear 409', async () => {
    const a = await setup(100);
    const q = await quote(gw, a.token, a.id, 1, 'one_time');
    const replies = await Promise.all(
      Array.from({ length: 10 }, () => confirm(gw, a.token, a.id, { quoteId: q.quoteId, paymentMethodId: a.card.id })),
    );
    expect(replies.filter((r) => r.status === 201)).toHaveLength(1);
    const refused = replies.filter((r) => r.status === 409);
    expect(refused).toHaveLength(9);
    for (const r of refused) expect(r.json.error.code).toBe('QUOTE_USED');
    expect((await balance(a.id)).balance).toBe(200);
  });

  it('refuses: no key (400), an expired quote (409), an unknown quote or another account’s card (404), an expired card (422)', async () => {
    const a = await setup(100);
    const other = await setup(100);
    const q = await quote(gw, a.token, a.id, 1, 'one_time');

    const noKey = await confirm(gw, a.token, a.id, { quoteId: q.quoteId, paymentMethodId: a.card.id }, null);
    expect(noKey.status).toBe(400);
    expect(noKey.json.error.code).toBe('IDEMPOTENCY_KEY_REQUIRED');

    const foreignCard = await confirm(gw, a.token, a.id, { quoteId: q.quoteId, paymentMethodId: other.card.id });
    expect(foreignCard.status).toBe(404);
    expect(foreignCard.json.error.code).toBe('PAYMENT_METHOD_NOT_FOUND');

    const foreignQuote = await confirm(gw, other.token, other.id, { quoteId: q.quoteId, paymentMethodId: other.card.id });
    expect(foreignQuote.status).toBe(404);

    const unknown = await confirm(gw, a.token, a.id, { quoteId: 'quo_doesnotexist0000', paymentMethodId: a.card.id });
    expect(unknown.status).toBe(404);

    // A refused request is not remembered under its key: fixed, it may go through.
    const key = randomUUID();
    const refused = await confirm(gw, a.token, a.id, { quoteId: q.quoteId, paymentMethodId: other.card.id }, key);
    expect(refused.status).toBe(404);
    const fixed = await confirm(gw, a.token, a.id, { quoteId: q.quoteId, paymentMethodId: a.card.id }, key);
    expect(fixed.status).toBe(201);

    const used = await confirm(gw, a.token, a.id, { quoteId: q.quoteId, paymentMethodId: a.card.id });
    expect(used.status).toBe(409);
    expect(used.json.error.code).toBe('QUOTE_USED');

    const late = await quote(gw, a.token, a.id, 1, 'one_time');
    clock.now += 15 * 60_000;
    const expired = await confirm(gw, a.token, a.id, { quoteId: late.quoteId, paymentMethodId: a.card.id });
    expect(expired.status).toBe(409);
    expect(expired.json.error.code).toBe('QUOTE_EXPIRED');
    expect((await balance(a.id)).balance).toBe(200);
  });

  it('a card that expired since it was added cannot be charged', async () => {
    const a = await setup(100);
    const d = new Date(clock.now);
    const card = await addCard(gw, a.token, a.id, { processorToken: 'tok_expiring', expMonth: d.getUTCMonth() + 1, expYear: d.getUTCFullYear() });
    const saved = clock.now;
    try {
      clock.now = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) + 1000; // first second of next month
      const token = await staffToken(gw, a.id);
      const q = await quote(gw, token, a.id, 1, 'one_time');
      const r = await confirm(gw, token, a.id, { quoteId: q.quoteId, paymentMethodId: card.id });
      expect(r.status).toBe(422);
      expect(r.json.error.code).toBe('CARD_EXPIRED');
      const list = (await api(gw, token, 'GET', `/v1/accounts/${a.id}/payment-methods`)).json.paymentMethods;
      expect(list.find((p: any) => p.id === card.id).expired).toBe(true);
      // The quote is still good with another card.
      expect((await confirm(gw, token, a.id, { quoteId: q.quoteId, paymentMethodId: a.card.id })).status).toBe(201);
    } finally {
      clock.now = saved;
    }
  });

  it('the admin orders on behalf of a named staff member, who gets the receipt; staff order for themselves only', async () => {
    const a = await setup(100);
    await gw.admin('POST', `/v1/accounts/${a.id}/staff`, { id: 'bob', email: `bob@${a.id}.example`, identity: `${a.id}_bob` });
    const q = await quote(gw, ADMIN, a.id, 1, 'one_time');
    const noStaff = await confirm(gw, ADMIN, a.id, { quoteId: q.quoteId, paymentMethodId: a.card.id });
    expect(noStaff.status).toBe(400);
    expect(noStaff.json.error.message).toMatch(/^staffId:/);
    const ghost = await confirm(gw, ADMIN, a.id, { quoteId: q.quoteId, paymentMethodId: a.card.id, staffId: 'ghost' });
    expect(ghost.status).toBe(404);
    const notMe = await confirm(gw, a.token, a.id, { quoteId: q.quoteId, paymentMethodId: a.card.id, staffId: 'bob' });
    expect(notMe.status).toBe(403);
    const ok = await confirm(gw, ADMIN, a.id, { quoteId: q.quoteId, paymentMethodId: a.card.id, staffId: 'bob' });
    expect(ok.status).toBe(201);
    expect(ok.json).toMatchObject({ orderedBy: 'bob', receipt: { to: `bob@${a.id}.example`, status: 'queued' } });
  });

  it('a staff token reaches its own account only', async () => {
    const a = await setup(100);
    const b = await setup(100);
    expect((await api(gw, a.token, 'POST', `/v1/accounts/${b.id}/purchases/quote`, { bundles: 1, kind: 'addon' })).status).toBe(403);
    expect((await api(gw, a.token, 'GET', `/v1/accounts/${b.id}/payment-methods`)).status).toBe(403);
    expect((await api(gw, a.token, 'GET', `/v1/accounts/${b.id}/charges`)).status).toBe(403);
    expect((await api(gw, a.token, 'PATCH', `/v1/accounts/${a.id}/plan`, { monthlyMinutes: 1000 })).status).toBe(403);
    expect((await api(gw, 'nonsense', 'GET', `/v1/accounts/${a.id}/charges`)).status).toBe(401);
  });
});

describe('bad input: 400 naming the field, never a 500, nothing written', () => {
  it('validates every billing body and query', async () => {
    const a = await setup(100);
    const before = await balance(a.id);
    const q = await quote(gw, a.token, a.id, 1, 'one_time');
    const cases: [string, string, unknown, RegExp][] = [
      ['POST', 'payment-methods', { ...CARD, last4: '42' }, /^last4:/],
      ['POST', 'payment-methods', { ...CARD, expMonth: 13 }, /^expMonth:/],
      ['POST', 'payment-methods', { ...CARD, expYear: '2030' }, /^expYear:/],
      ['POST', 'payment-methods', { ...CARD, brand: 'bitcoin' }, /^brand:/],
      ['POST', 'payment-methods', { ...CARD, processorToken: 'a b' }, /^processorToken:/],
      ['POST', 'payment-methods', { brand: 'visa' }, /processorToken/],
      ['POST', 'payment-methods', { ...CARD, cvc: '123' }, /cvc/],
      ['POST', 'purchases/quote', { bundles: 0, kind: 'addon' }, /^bundles:/],
      ['POST', 'purchases/quote', { bundles: 101, kind: 'addon' }, /^bundles:/],
      ['POST', 'purchases/quote', { bundles: 1.5, kind: 'addon' }, /^bundles:/],
      ['POST', 'purchases/quote', { bundles: 1, kind: 'forever' }, /^kind:/],
      ['POST', 'purchases/quote', [], /body/],
      ['POST', 'purchases', { quoteId: 'nope', paymentMethodId: a.card.id }, /^quoteId:/],
      ['POST', 'purchases', { quoteId: q.quoteId }, /^paymentMethodId:/],
      ['POST', 'purchases', { quoteId: q.quoteId, paymentMethodId: a.card.id, extra: 1 }, /extra/],
      ['PATCH', 'plan', { monthlyMinutes: -1 }, /^monthlyMinutes:/],
      ['PATCH', 'plan', { monthlyMinutes: 1.5 }, /^monthlyMinutes:/],
      ['PATCH', 'plan', { monthlyMinutes: '100' }, /^monthlyMinutes:/],
      ['PATCH', 'plan', {}, /^planMinutes:/],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await api(gw, ADMIN, method, `/v1/accounts/${a.id}/${path}`, body, path === 'purchases' ? { 'idempotency-key': randomUUID() } : {});
      expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(r.json.error.code).toBe('VALIDATION_FAILED');
      expect(r.json.error.message).toMatch(field);
    }
    const notJson = await api(gw, ADMIN, 'POST', `/v1/accounts/${a.id}/purchases/quote`, '{"bundles":');
    expect(notJson.status).toBe(400);
    expect(notJson.json.error.code).toBe('INVALID_JSON');
    const badKey = await api(gw, a.token, 'POST', `/v1/accounts/${a.id}/purchases`, { quoteId: q.quoteId, paymentMethodId: a.card.id }, { 'idempotency-key': 'x'.repeat(300) });
    expect(badKey.status).toBe(400);
    expect(badKey.json.error.message).toMatch(/^Idempotency-Key:/);
    const badCycle = await api(gw, a.token, 'GET', `/v1/accounts/${a.id}/charges?cycle=next`);
    expect(badCycle.status).toBe(400);
    expect(badCycle.json.error.message).toMatch(/^cycle:/);
    const badPm = await api(gw, a.token, 'DELETE', `/v1/accounts/${a.id}/payment-methods/..%2F..`);
    expect(badPm.status).toBe(400);
    const badPurchase = await api(gw, a.token, 'GET', `/v1/accounts/${a.id}/purchases/pur_unknown000000`);
    expect(badPurchase.status).toBe(404);
    const unknownAccount = await gw.admin('PATCH', '/v1/accounts/nosuchaccount/plan', { monthlyMinutes: 5 });
    expect(unknownAccount.status).toBe(404);
    expect((await gw.admin('POST', '/v1/accounts/nosuchaccount/purchases/quote', { bundles: 1, kind: 'addon' })).status).toBe(404);
    expect((await gw.admin('GET', '/v1/accounts/nosuchaccount/payment-methods')).status).toBe(404);
    expect((await gw.admin('POST', '/v1/accounts/nosuchaccount/payment-methods', CARD)).status).toBe(404);
    expect((await gw.admin('GET', '/v1/accounts/nosuchaccount/charges')).status).toBe(404);

    const after = await balance(a.id);
    expect(after).toMatchObject({ balance: before.balance, monthlyMinutes: before.monthlyMinutes, version: before.version });
  });
});
