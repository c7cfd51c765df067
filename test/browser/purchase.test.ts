// "Add More Minutes" in a real browser (headless Chromium) against the real gateway,
// Redis and a real SMTP server: the whole flow by clicks, with a new (test) card, ends
// with the minutes at once and the receipt mailed; a double click, and a retry after a
// lost answer, buy once.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, api, decodeMail, staffToken, startSmtp, type TestSmtp } from '../support/billing.js';
import { launchBrowser, phonePage } from '../support/browser.js';
import { createAccount, startTestGateway, type TestClock, type TestGateway } from '../support/gateway.js';

let browser: Browser;
let gw: TestGateway;
let smtp: TestSmtp;

beforeAll(async () => {
  smtp = await startSmtp();
  [browser, gw] = await Promise.all([
    launchBrowser(),
    // STAFF_TOKEN_SECRET unset: development mode (a generated secret), which offers the test card.
    startTestGateway({ env: { SMTP_URL: smtp.url, BUNDLE_PRICE_CENTS: '1500', STAFF_TOKEN_SECRET: '' } }),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await gw?.stop();
  await smtp?.close();
});

async function signedIn(monthlyMinutes: number) {
  const a = await createAccount(gw, { monthlyMinutes });
  const token = await staffToken(gw, a.id);
  const { context, page, errors } = await phonePage(browser);
  // The app's socket passes through the test, which can hold back the gateway's frames.
  const socket = { hold: false };
  await page.routeWebSocket(/\/v1\/ws/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((m) => {
      if (!socket.hold) ws.send(m);
    });
  });
  await page.goto(`${gw.url}/app#token=${token}`);
  await expect.poll(() => counter(page, monthlyMinutes).count()).toBe(1);
  return { ...a, token, context, page, errors, socket };
}

const counter = (page: Page, n: number) => page.getByRole('button', { name: `Minutes remaining: ${n}` });
const balanceOf = async (id: string) => (await api(gw, ADMIN, 'GET', `/v1/accounts/${id}/balance`)).json.available as number;

describe('Add More Minutes', () => {
  it('the whole flow by clicks: bundles, review with the quote, a new test card, confirm; minutes at once, receipt mailed', async () => {
    const s = await signedIn(100);
    const { page } = s;
    expect(await fetch(`${gw.url}/app/config.json`).then((r) => r.json())).toEqual({
      devMode: true,
      prices: { bundleMinutes: 100, bundlePriceCents: 1500, overagePriceCentsPerMinute: 0, currency: 'USD' },
    });

    await counter(page, 100).click();
    // Focus follows the flow (keyboard and screen-reader users land on each step).
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Add More Minutes');
    await page.getByRole('button', { name: 'Add More Minutes' }).click();
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Add More Minutes');
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('H2');
    const input = page.getByLabel('Minutes', { exact: true });
    expect(await input.inputValue()).toBe('100');
    // Bundles are billed monthly: the add-on is preselected; the price shows before Review.
    expect(await page.getByRole('radio', { name: /Monthly add-on/ }).isChecked()).toBe(true);
    const price = page.locator('.price');
    expect(await price.innerText()).toMatch(/^\$15\.00\s+\$15\.00 per 100 minutes, every month$/);
    await page.getByRole('button', { name: 'Add 100 minutes' }).click();
    await page.getByRole('button', { name: 'Add 100 minutes' }).click();
    expect(await input.inputValue()).toBe('300');
    await expect.poll(() => price.innerText()).toMatch(/^\$45\.00/);
    await page.getByRole('button', { name: 'Remove 100 minutes' }).click();
    expect(await input.inputValue()).toBe('200');
    await expect.poll(() => price.innerText()).toMatch(/^\$30\.00/);
    // The quantity step links to "How minutes work"; closing it brings focus back to the link.
    await page.getByRole('button', { name: 'To learn more about how minutes work' }).click();
    await expect.poll(() => page.getByRole('dialog', { name: 'How minutes work' }).isVisible()).toBe(true);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByRole('dialog', { name: 'How minutes work' }).count()).toBe(0);
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('To learn more about how minutes work');

    // Typed amounts: only multiples of 100 from 100 to 10,000.
    for (const bad of ['150', '0', '10100', '']) {
      await input.fill(bad);
      await expect.poll(() => page.locator('#minutes-help').innerText()).toMatch(/multiple of 100 from 100 to 10,000/);
      expect(await page.getByRole('button', { name: 'Review' }).isDisabled()).toBe(true);
    }
    await input.fill('200');
    await page.getByRole('radio', { name: /One-time minutes/ }).check();
    await expect.poll(() => price.innerText()).toMatch(/^\$30\.00\s+\$15\.00 per 100 minutes$/);
    await page.getByRole('button', { name: 'Review' }).click();

    // The server's quote.
    const panel = page.getByRole('region', { name: 'Buy minutes' });
    await expect.poll(() => panel.innerText()).toMatch(/Minutes\s*200/);
    expect(await panel.innerText()).toMatch(/Price\s*\$30\.00/);
    expect(await panel.innerText()).toMatch(/Billed on\s*\w{3} \d{1,2}, \d{4}/);
    // No card on file: "Add a new card", with the clearly labelled test card.
    expect(await page.getByRole('radio', { name: 'Add a new card' }).isChecked()).toBe(true);
    expect(await panel.innerText()).toContain('Test card — development mode only, nothing is charged');
    await page.getByRole('button', { name: 'Add', exact: true }).click();

    // Final review, then the purchase.
    await expect.poll(() => panel.innerText()).toMatch(/Card\s*Visa ending 4242/);
    expect(await balanceOf(s.id)).toBe(100);
    // The new balance shows at once, from the purchase's own answer: the socket's frames
    // are held back meanwhile.
    s.socket.hold = true;
    await page.getByRole('button', { name: 'Confirm purchase' }).click();
    await expect.poll(() => panel.innerText()).toContain('You now have 300 minutes');
    await expect.poll(() => counter(page, 300).count()).toBe(1);
    // The confirmation: minutes, amount, card, the order's reference, the receipt's status.
    const done = await panel.innerText();
    expect(done).toMatch(/200 minutes added/);
    expect(done).toMatch(/Amount\s*\$30\.00/);
    expect(done).toMatch(/Card\s*Visa ending 4242/);
    expect(done).toMatch(/Order reference\s*pur_[\w-]+/);
    expect(done).toMatch(/Receipt\s*(Sending…|Sent)/);
    s.socket.hold = false;
    expect(await balanceOf(s.id)).toBe(300);

    // The receipt reaches the SMTP server, and the app says so.
    await expect.poll(() => panel.innerText(), { timeout: 15_000 }).toContain(`Receipt sent to alice@${s.id}.example`);
    expect(await panel.innerText()).toMatch(/Receipt\s*Sent/);
    const mails = smtp.mails.filter((m) => m.to.includes(`alice@${s.id}.example`));
    expect(mails).toHaveLength(1);
    expect(decodeMail(mails[0]!.raw)).toContain('Minutes added: 200');

    // The card went to the gateway as a processor token, never as a number.
    const cards = (await api(gw, ADMIN, 'GET', `/v1/accounts/${s.id}/payment-methods`)).json.paymentMethods;
    expect(cards).toMatchObject([{ brand: 'visa', last4: '4242' }]);
    expect(s.errors).toEqual([]);
    await s.context.close();
  });

  it('a double click on "Confirm purchase", and a retry after a lost answer, buy once', async () => {
    const s = await signedIn(100);
    const { page } = s;
    await api(gw, s.token, 'POST', `/v1/accounts/${s.id}/payment-methods`, {
      processorToken: 'tok_test_card_on_file',
      brand: 'mastercard',
      last4: '4444',
      expMonth: 12,
      expYear: 2099,
    });
    const buyOnce = async (kind: RegExp) => {
      await page.getByRole('button', { name: /^Minutes remaining: / }).click();
      await page.getByRole('button', { name: 'Add More Minutes' }).click();
      await page.getByRole('radio', { name: kind }).check();
      await page.getByRole('button', { name: 'Review' }).click();
      // The card on file is chosen, with its expiry.
      await expect.poll(() => page.getByRole('radio', { name: 'Mastercard ending 4444, expires 12/2099' }).isChecked()).toBe(true);
      await page.getByRole('radio', { name: 'Mastercard ending 4444' }).check();
      await page.getByRole('button', { name: 'Add', exact: true }).click();
    };

    await buyOnce(/Monthly add-on/);
    await page.getByRole('button', { name: 'Confirm purchase' }).dblclick();
    await expect.poll(() => counter(page, 200).count()).toBe(1);
    await page.waitForTimeout(500);
    expect(await balanceOf(s.id)).toBe(200);
    expect((await api(gw, ADMIN, 'GET', `/v1/accounts/${s.id}/addons`)).json.addons).toHaveLength(1);

    // The answer to the first try is lost (the purchase is made): the retry reuses the
    // order's Idempotency-Key and gets the same purchase back.
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('button', { name: 'Add More Minutes' }).click();
    await page.getByRole('radio', { name: /One-time minutes/ }).check();
    await page.getByRole('button', { name: 'Review' }).click();
    await page.getByRole('radio', { name: 'Mastercard ending 4444' }).check();
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    const keys: string[] = [];
    let lost = false;
    await page.route('**/purchases', async (route) => {
      keys.push(route.request().headers()['idempotency-key'] ?? '');
      const res = await route.fetch();
      if (!lost) {
        lost = true;
        return route.abort('connectionreset');
      }
      return route.fulfill({ response: res });
    });
    await page.getByRole('button', { name: 'Confirm purchase' }).click();
    await expect.poll(() => page.getByRole('region', { name: 'Buy minutes' }).innerText()).toContain('could not be reached');
    expect(await balanceOf(s.id)).toBe(300);
    await page.getByRole('button', { name: 'Confirm purchase' }).click();
    await expect.poll(() => page.getByRole('region', { name: 'Buy minutes' }).innerText()).toContain('You now have 300 minutes');
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^[\w-]{16,}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(await balanceOf(s.id)).toBe(300);
    expect(s.errors).toEqual([]);
    await s.context.close();
  });

  it('an order left open past its quote (15 min) is refused with a clear message and a way to a new quote', async () => {
    // A gateway on a clock the test moves (started at real time, so the token stays valid).
    const clock: TestClock = { now: Date.now() };
    const timed = await startTestGateway({ clock, env: { BUNDLE_PRICE_CENTS: '1500' } });
    try {
      const a = await createAccount(timed, { monthlyMinutes: 100 });
      const token = await staffToken(timed, a.id);
      await api(timed, token, 'POST', `/v1/accounts/${a.id}/payment-methods`, {
        processorToken: 'tok_test_card_on_file', brand: 'visa', last4: '4242', expMonth: 12, expYear: 2099,
      });
      const { context, page, errors } = await phonePage(browser);
      await page.goto(`${timed.url}/app#token=${token}`);
      await page.getByRole('button', { name: 'Minutes remaining: 100' }).click();
      await page.getByRole('button', { name: 'Add More Minutes' }).click();
      await page.getByRole('button', { name: 'Review' }).click();
      await page.getByRole('button', { name: 'Add', exact: true }).click();
      await page.getByRole('button', { name: 'Confirm purchase' }).waitFor();
      clock.now += 16 * 60_000;
      await page.getByRole('button', { name: 'Confirm purchase' }).click();
      const panel = page.getByRole('region', { name: 'Buy minutes' });
      // A sentence for a business owner (not the server's text), announced, with the way on.
      await expect.poll(() => page.getByRole('alert').innerText()).toContain('The price quote has expired (quotes last 15 minutes); ask for a new quote.');
      expect((await api(timed, ADMIN, 'GET', `/v1/accounts/${a.id}/balance`)).json.available).toBe(100);
      await page.getByRole('button', { name: 'Get a new quote' }).click();
      await page.getByRole('button', { name: 'Review' }).click();
      await page.getByRole('button', { name: 'Add', exact: true }).click();
      await page.getByRole('button', { name: 'Confirm purchase' }).click();
      await expect.poll(() => panel.innerText()).toContain('You now have 200 minutes');
      expect(errors).toEqual([]);
      await context.close();
    } finally {
      await timed.stop();
    }
  });
});
