// The web app's screens (issue #20) in a real browser (headless Chromium, phone viewport)
// against the real gateway, Redis and PostgreSQL: navigation and deep links, the account's
// name, sign-in across tabs and sign-out everywhere, the counter's menu and "How minutes
// work", the Calls, Usage and Billing screens, the honest states (offline, an ended
// sign-in, errors with a retry), contrast and focus, 320 px, and a screenshot of each screen.
import { mkdir, writeFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, addCard, api, buy, staffToken } from '../support/billing.js';
import { launchBrowser, phonePage } from '../support/browser.js';
import { answeredCallSignals, childLegEvent, dialAction, parentEvent, placeInboundCall, placeSoftphoneCall, postAll } from '../support/calls.js';
import { callSid, createAccount, startTestGateway, type TestClock, type TestGateway } from '../support/gateway.js';

let browser: Browser;
let gw: TestGateway;

// Development mode (no STAFF_TOKEN_SECRET): the test tokenizer is offered. Overage has a price.
const ENV = { BUNDLE_PRICE_CENTS: '1500', OVERAGE_PRICE_CENTS_PER_MINUTE: '25', STAFF_TOKEN_SECRET: '' };

beforeAll(async () => {
  [browser, gw] = await Promise.all([launchBrowser(), startTestGateway({ env: ENV })]);
});
afterAll(async () => {
  await browser?.close();
  await gw?.stop();
});

async function signedIn(g: TestGateway, opts: { monthlyMinutes?: number; billingAnchor?: string; path?: string } = {}) {
  const a = await createAccount(g, { monthlyMinutes: opts.monthlyMinutes ?? 100, ...(opts.billingAnchor ? { billingAnchor: opts.billingAnchor } : {}) });
  const token = await staffToken(g, a.id);
  const { context, page, errors } = await phonePage(browser);
  await page.goto(`${g.url}${opts.path ?? '/app'}#token=${token}`);
  await expect.poll(() => page.getByRole('button', { name: /^Minutes remaining: \d+$/ }).count()).toBe(1);
  return { ...a, token, context, page, errors };
}

const nav = (page: Page) => page.getByRole('navigation', { name: 'Screens' });
const counterText = (page: Page) => page.getByRole('button', { name: /^Minutes remaining: / }).getAttribute('aria-label');

function unansweredSignals(parent: string) {
  const child = callSid();
  return [
    childLegEvent(parent, child, 0, 'initiated'),
    childLegEvent(parent, child, 1, 'ringing'),
    childLegEvent(parent, child, 2, 'no-answer', 0),
    dialAction(parent, child, 'no-answer', 0),
    parentEvent(parent, null, 'completed', 25),
  ];
}

async function shoot(page: Page, name: string, top = false) {
  if (top) await page.evaluate(() => scrollTo(0, 0));
  const png = await page.screenshot({ fullPage: false }); // the sticky header would repeat down a full-page shot
  // Refreshed on request only, so a test run leaves the tree clean.
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    await mkdir('docs/screens', { recursive: true });
    await writeFile(`docs/screens/${name}.png`, png);
  }
}

describe('navigation and sign-in', () => {
  it('has Calls, Usage and Billing links; the header names the account; deep links and reloads land on the same screen', async () => {
    const s = await signedIn(gw, { path: '/app/billing' });
    const { page } = s;
    await expect.poll(() => page.getByRole('heading', { level: 1 }).innerText()).toBe(`Account ${s.id}`);
    const links = nav(page).getByRole('link');
    expect(await links.allInnerTexts()).toEqual(['Calls', 'Usage', 'Billing', 'Softphone']);
    expect(await nav(page).getByRole('link', { name: 'Billing' }).getAttribute('aria-current')).toBe('page');
    expect(await page.getByRole('region', { name: 'Charges' }).count()).toBe(1);

    await nav(page).getByRole('link', { name: 'Usage' }).click();
    expect(new URL(page.url()).pathname).toBe('/app/usage');
    await expect.poll(() => page.getByRole('region', { name: 'Usage by staff' }).count()).toBe(1);
    await page.reload();
    await expect.poll(() => page.getByRole('region', { name: 'Usage by staff' }).count()).toBe(1);
    expect(await nav(page).getByRole('link', { name: 'Usage' }).getAttribute('aria-current')).toBe('page');
    await page.goBack();
    await expect.poll(() => page.getByRole('region', { name: 'Charges' }).count()).toBe(1);
    await nav(page).getByRole('link', { name: 'Calls' }).click();
    expect(new URL(page.url()).pathname).toBe('/app');
    await expect.poll(() => page.getByRole('region', { name: 'Recent calls' }).count()).toBe(1);
    expect(s.errors).toEqual([]);
    await s.context.close();
  });

  it('a sign-in link works for new tabs of the same browser; Sign out forgets it in every tab', async () => {
    const s = await signedIn(gw);
    const other = await s.context.newPage();
    await other.goto(`${gw.url}/app/usage`); // no link: the stored sign-in
    await expect.poll(() => other.getByRole('button', { name: 'Minutes remaining: 100' }).count()).toBe(1);
    await s.page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => s.page.getByRole('alert').innerText()).toMatch(/You have signed out/);
    await expect.poll(() => other.getByRole('alert').innerText()).toMatch(/You have signed out/);
    expect(await other.evaluate(() => localStorage.getItem('minutegate.token'))).toBeNull();
    const third = await s.context.newPage();
    await third.goto(`${gw.url}/app`);
    await expect.poll(() => third.getByRole('alert').innerText()).toMatch(/Not signed in/);
    await s.context.close();
  });

  it('a revoked sign-in says so within 10 s, not "Reconnecting…" for ever', async () => {
    const s = await signedIn(gw);
    expect((await gw.admin('POST', `/v1/accounts/${s.id}/staff/alice/revoke-tokens`)).status).toBeLessThan(300);
    const t0 = Date.now();
    await expect.poll(() => s.page.getByRole('alert').innerText(), { timeout: 10_000 }).toMatch(/^Your sign-in has ended — ask for a new link/);
    expect(Date.now() - t0).toBeLessThan(10_000);
    await s.context.close();
  });

  it('an expired sign-in says so on time', async () => {
    const a = await createAccount(gw);
    const r = await gw.admin('POST', `/v1/accounts/${a.id}/staff/alice/token`, { ttlSeconds: 60 });
    const { context, page } = await phonePage(browser);
    await page.clock.install();
    await page.goto(`${gw.url}/app#token=${r.json.token}`);
    await expect.poll(() => page.getByRole('button', { name: 'Minutes remaining: 100' }).count()).toBe(1);
    await page.clock.fastForward('01:05');
    await expect.poll(() => page.getByRole('alert').innerText(), { timeout: 10_000 }).toMatch(/^Your sign-in has ended — ask for a new link/);
    await context.close();
  });
});

describe('the counter and "How minutes work"', () => {
  it('shows the balance, never below 0, with overage beside it; its menu opens "How minutes work", which closes by button and Escape and gives focus back', async () => {
    const s = await signedIn(gw, { monthlyMinutes: 1 });
    const { page } = s;
    // A call of 2:05 (3 minutes) with 1 minute left: 2 minutes of overage.
    const call = await placeSoftphoneCall(gw, s.identity, '+14155550123');
    await postAll(gw, answeredCallSignals(call.callSid, 125));
    await expect.poll(() => counterText(page)).toBe('Minutes remaining: 0');
    const wrap = page.locator('.counter-wrap');
    // (Once the change's "−1" has faded.)
    await expect.poll(() => wrap.innerText()).toMatch(/^Minutes remaining\s*0\s*2 overage this cycle$/);

    await page.getByRole('button', { name: 'Minutes remaining: 0' }).click();
    const menu = page.getByRole('region', { name: 'Buy minutes' });
    expect(await menu.getByRole('button').allInnerTexts()).toEqual(['Add More Minutes', 'How minutes work']);
    await menu.getByRole('button', { name: 'How minutes work' }).click();
    const dialog = page.getByRole('dialog', { name: 'How minutes work' });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    const text = await dialog.innerText();
    expect(text).toContain('Calls of 30 seconds or less are free.');
    expect(text).toContain('Longer calls are rounded up to whole minutes');
    expect(text).toContain('Every staff member and every device uses the same minutes.');
    expect(text).toMatch(/resets on your billing date — next on \w{3} \d{1,2}, \d{4}\. Minutes left over do not roll over/);
    expect(text).toContain('A call in progress is never cut off');
    expect(text).toContain('A monthly add-on adds its minutes every cycle until you end it; one-time minutes are for this cycle only.');
    expect(text).toContain('billed with the cycle at $0.25 a minute');
    await shoot(page, 'how-minutes-work');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await expect.poll(() => dialog.isVisible()).toBe(false);
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('How minutes work');
    await menu.getByRole('button', { name: 'How minutes work' }).click();
    await expect.poll(() => dialog.isVisible()).toBe(true);
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.isVisible()).toBe(false);
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('How minutes work');
    expect(s.errors).toEqual([]);
    await s.context.close();
  });

  it('the buy steps, for the screenshots: quantity with its price, card, confirmation', async () => {
    const s = await signedIn(gw, { monthlyMinutes: 500 });
    const { page } = s;
    await addCard(gw, s.token, s.id, { brand: 'mastercard', last4: '4444', expMonth: 8, expYear: 2031 });
    await page.getByRole('button', { name: /^Minutes remaining: / }).click();
    await page.getByRole('button', { name: 'Add More Minutes' }).click();
    await page.getByRole('button', { name: 'Add 100 minutes' }).click();
    await expect.poll(() => page.locator('.price').innerText()).toMatch(/^\$30\.00/);
    await shoot(page, 'buy-1-quantity');
    await page.getByRole('button', { name: 'Review' }).click();
    await page.getByRole('radio', { name: 'Add a new card' }).check();
    // The card form is the tokenizer's: a number with a typo is refused here, before anything is sent.
    const number = page.getByLabel('Card number');
    await number.fill('4242 4242 4242 4241');
    await shoot(page, 'buy-2-card');
    let posted = 0;
    page.on('request', (r) => {
      if (r.url().endsWith('/payment-methods') && r.method() === 'POST') posted++;
    });
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toMatch(/^That card number is not complete or has a typo\. Check the digits\./);
    expect(posted).toBe(0);
    await page.getByRole('radio', { name: 'Mastercard ending 4444, expires 08/2031' }).check();
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('button', { name: 'Confirm purchase' }).click();
    await expect.poll(() => page.getByRole('region', { name: 'Buy minutes' }).innerText()).toMatch(/Order reference/);
    await shoot(page, 'buy-3-confirmation');
    expect(s.errors).toEqual([]);
    await s.context.close();
  });
});

describe('the Calls screen', () => {
  it('pages the whole history with "Load more"; an unanswered call reads "No answer"; an inbound call says who answered; timers freeze while offline', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 500 });
    // 23 calls: more than one page (20).
    for (let i = 0; i < 22; i++) {
      const c = await placeSoftphoneCall(gw, a.identity, `+1415555${String(1000 + i)}`);
      await postAll(gw, answeredCallSignals(c.callSid, 40 + i));
    }
    const missed = await placeSoftphoneCall(gw, a.identity, '+14155550999');
    await postAll(gw, unansweredSignals(missed.callSid));
    const inbound = await placeInboundCall(gw, a.number, '+14155550777');
    expect(inbound.allowed).toBe(true);
    // Twilio's signals of the softphone leg name the identity it rang: alice answered.
    await postAll(gw, answeredCallSignals(inbound.callSid, 70).map((sig: Record<string, string>) => (sig.ParentCallSid ? { ...sig, To: `client:${a.identity}` } : sig)));

    const token = await staffToken(gw, a.id);
    const { context, page, errors } = await phonePage(browser);
    // The app's socket passes through the test, which can cut it.
    const cut = { on: false };
    await page.routeWebSocket(/\/v1\/ws/, (ws) => {
      if (cut.on) return ws.close({ code: 4000, reason: 'cut by the test' });
      const server = ws.connectToServer();
      const timer = setInterval(() => {
        if (cut.on) {
          clearInterval(timer);
          ws.close({ code: 4000, reason: 'cut by the test' });
          server.close();
        }
      }, 50);
    });
    await page.goto(`${gw.url}/app#token=${token}`);
    const recent = page.getByRole('region', { name: 'Recent calls' });
    await expect.poll(() => recent.getByRole('listitem').count()).toBe(20);
    const first = await recent.innerText();
    expect(first).toMatch(/alice answered\s*from \+14155550777\s*1:10\s*2 min/);
    expect(first).toMatch(/to \+14155550999\s*\w{3} \d{1,2}\s*No answer/);
    await recent.getByRole('button', { name: 'Load more' }).click();
    await expect.poll(() => recent.getByRole('listitem').count()).toBe(24);
    expect(await recent.getByRole('button', { name: 'Load more' }).count()).toBe(0);
    expect(await recent.innerText()).toMatch(/to \+14155551000\s*0:40\s*1 min/);
    await shoot(page, 'calls', true);

    // A live call's timer ticks, and freezes while the app is offline.
    const live = await placeSoftphoneCall(gw, a.identity, '+14155550888');
    await postAll(gw, answeredCallSignals(live.callSid, 60).slice(0, 3));
    const active = page.getByRole('region', { name: 'Active calls' });
    await expect.poll(() => active.innerText()).toContain('+14155550888');
    cut.on = true;
    const lost = Date.now();
    await expect.poll(() => page.getByRole('status').first().innerText(), { timeout: 5000 }).toMatch(/^Offline — figures from /);
    expect(Date.now() - lost).toBeLessThan(5000);
    const frozen = await active.locator('.dur').innerText();
    await page.waitForTimeout(2200);
    expect(await active.locator('.dur').innerText()).toBe(frozen);
    cut.on = false;
    await expect.poll(() => page.getByRole('status').first().innerText(), { timeout: 15_000 }).toBe('');
    await expect.poll(() => active.locator('.dur').innerText()).not.toBe(frozen);
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe('the Usage screen', () => {
  it('usage by staff (by name when a member has one), a per-day chart with an accessible name, the previous cycle on demand, and the calls as CSV', async () => {
    const s = await signedIn(gw, { monthlyMinutes: 500, billingAnchor: new Date(Date.now() - 5 * 86400_000).toISOString(), path: '/app/usage' });
    const { page } = s;
    for (const secs of [125, 61, 20]) {
      const c = await placeSoftphoneCall(gw, s.identity, '+14155550123');
      await postAll(gw, answeredCallSignals(c.callSid, secs));
    }
    const staff = page.getByRole('region', { name: 'Usage by staff' });
    await expect.poll(() => staff.innerText()).toMatch(/alice\s*3\s*5/);
    const chart = page.getByRole('region', { name: 'Usage', exact: true }).getByRole('img');
    expect(await chart.getAttribute('aria-label')).toMatch(
      /^Minutes used this cycle: 5 minutes used since \w{3} \d{1,2}, per day from .+ to .+; the busiest day had 5 minutes$/,
    );
    // The axes are labelled: the top figure, 0, and the cycle's first and last days.
    expect(await chart.locator('text').allTextContents()).toEqual(expect.arrayContaining(['5', '0']));
    expect(await chart.locator('rect').count()).toBe(1);
    await shoot(page, 'usage', true);

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export calls (CSV)' }).click()]);
    const csv = await (await import('node:fs/promises')).readFile((await download.path())!, 'utf8');
    expect(csv.split('\n')[0]).toMatch(/callSid/i);
    expect(csv.trim().split('\n')).toHaveLength(4);

    await page.getByRole('button', { name: 'Previous cycle' }).click();
    expect(await page.getByRole('button', { name: 'Previous cycle' }).getAttribute('aria-pressed')).toBe('true');
    await expect.poll(() => staff.innerText()).toContain('No calls in this cycle.');
    expect(await chart.getAttribute('aria-label')).toMatch(/^Minutes used in the previous cycle: 0 minutes/);

    // A staff member with a name is shown by it.
    const bob = await gw.admin('POST', `/v1/accounts/${s.id}/staff`, { id: 'bob', email: 'bob@acme.example', identity: `${s.id}_bob`, name: 'Bob Jones' });
    expect(bob.status, JSON.stringify(bob.json)).toBe(201);
    const c = await placeSoftphoneCall(gw, `${s.id}_bob`, '+14155550123');
    await postAll(gw, answeredCallSignals(c.callSid, 45));
    await page.getByRole('button', { name: 'This cycle' }).click();
    await expect.poll(() => staff.innerText()).toMatch(/Bob Jones\s*1\s*1/);
    expect(s.errors).toEqual([]);
    await s.context.close();
  });
});

describe('the Billing screen', () => {
  it('purchases, add-ons (End add-on → confirm → "Ends <date>"), cards (remove with confirmation, add by the form) and the charges', async () => {
    const s = await signedIn(gw, { monthlyMinutes: 100 });
    const { page } = s;
    const card = await addCard(gw, s.token, s.id, { brand: 'mastercard', last4: '4444', expMonth: 8, expYear: 2031 });
    await addCard(gw, s.token, s.id, { processorToken: 'tok_visa_second', last4: '1881' });
    await buy(gw, s.token, s.id, card.id, 2, 'addon');
    for (let i = 0; i < 11; i++) await buy(gw, s.token, s.id, card.id, 1, 'one_time');
    await nav(page).getByRole('link', { name: 'Billing' }).click();

    const purchases = page.getByRole('region', { name: 'Purchases' });
    await expect.poll(() => purchases.getByRole('listitem').count()).toBe(10);
    expect(await purchases.getByRole('listitem').first().innerText()).toMatch(/^100 minutes · one-time\s*\$15\.00\s*\w{3} \d{1,2}, \d{4} · Mastercard ending 4444 · Receipt (queued|sent)$/);
    await page.waitForTimeout(2600); // the counter's "+100" fades
    await shoot(page, 'billing', true);
    await purchases.getByRole('button', { name: 'Show more purchases' }).click();
    await expect.poll(() => purchases.getByRole('listitem').count()).toBe(12);
    expect(await purchases.getByRole('listitem').last().innerText()).toMatch(/^200 minutes · monthly add-on\s*\$30\.00/);

    const charges = page.getByRole('region', { name: 'Charges' });
    expect(await charges.innerText()).toMatch(/billed on \w{3} \d{1,2}, \d{4}/);
    expect(await charges.innerText()).toMatch(/Total\s*\$195\.00/);

    const addons = page.getByRole('region', { name: 'Add-ons' });
    await expect.poll(() => addons.innerText()).toMatch(/200 minutes every month\s*\$30\.00/);
    await addons.getByRole('button', { name: 'End add-on' }).click();
    const confirm = page.getByRole('dialog', { name: 'End this add-on?' });
    await expect.poll(() => confirm.isVisible()).toBe(true);
    await confirm.getByRole('button', { name: 'End add-on' }).click();
    await expect.poll(() => addons.innerText()).toMatch(/Ends \w{3} \d{1,2}, \d{4}/);
    expect(await addons.getByRole('button', { name: 'End add-on' }).count()).toBe(0);
    // The row's button is gone: focus lands on the section's heading, not on the page's body.
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Add-ons');
    const listed = (await api(gw, ADMIN, 'GET', `/v1/accounts/${s.id}/addons`)).json;
    expect(listed.addons).toHaveLength(0);
    expect(listed.ending).toHaveLength(1);

    const cards = page.getByRole('region', { name: 'Cards' });
    expect(await cards.innerText()).toMatch(/Mastercard ending 4444\s*Expires 08\/2031/);
    await cards.getByRole('button', { name: 'Remove Visa ending 1881' }).click();
    const remove = page.getByRole('dialog', { name: 'Remove this card?' });
    await remove.getByRole('button', { name: 'Cancel' }).click();
    expect(await cards.innerText()).toContain('Visa ending 1881');
    await cards.getByRole('button', { name: 'Remove Visa ending 1881' }).click();
    await remove.getByRole('button', { name: 'Remove card' }).click();
    await expect.poll(() => cards.innerText()).not.toContain('Visa ending 1881');
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Cards');
    await cards.getByRole('button', { name: 'Add a card' }).click();
    await cards.getByLabel('Card number').fill('5555 5555 5555 4444');
    await cards.getByLabel('Expiry (MM/YY)').fill('09/33');
    await cards.getByRole('button', { name: 'Save card' }).click();
    await expect.poll(() => cards.innerText()).toMatch(/Mastercard ending 4444\s*Expires 09\/2033/);
    const onFile = (await api(gw, ADMIN, 'GET', `/v1/accounts/${s.id}/payment-methods`)).json.paymentMethods;
    expect(onFile.map((c: { last4: string; expYear: number }) => `${c.last4}/${c.expYear}`).sort()).toEqual(['4444/2031', '4444/2033']);
    expect(s.errors).toEqual([]);
    await s.context.close();
  });

  it('an expired card is shown as "Expired" on the Billing screen and cannot be chosen to pay', async () => {
    // A gateway on a clock the test moves: the card is added while it was still valid.
    const clock: TestClock = { now: Date.now() - 35 * 86400_000 };
    const timed = await startTestGateway({ clock, env: ENV });
    try {
      const a = await createAccount(timed);
      const then = new Date(clock.now);
      await addCard(timed, ADMIN, a.id, { last4: '0005', expMonth: then.getUTCMonth() + 1, expYear: then.getUTCFullYear() });
      await addCard(timed, ADMIN, a.id, { processorToken: 'tok_good_card', brand: 'mastercard', last4: '4444' });
      clock.now = Date.now();
      const token = await staffToken(timed, a.id);
      const { context, page, errors } = await phonePage(browser);
      await page.goto(`${timed.url}/app/billing#token=${token}`);
      const cards = page.getByRole('region', { name: 'Cards' });
      await expect.poll(() => cards.innerText()).toMatch(/Visa ending 0005\s*Expired/);
      await page.getByRole('button', { name: /^Minutes remaining: / }).click();
      await page.getByRole('button', { name: 'Add More Minutes' }).click();
      await page.getByRole('button', { name: 'Review' }).click();
      expect(await page.getByRole('radio', { name: 'Visa ending 0005, Expired' }).isDisabled()).toBe(true);
      expect(await page.getByRole('radio', { name: /^Mastercard ending 4444, expires/ }).isChecked()).toBe(true);
      expect(errors).toEqual([]);
      await context.close();
    } finally {
      await timed.stop();
    }
  });

  it('an error is a sentence for a business owner, announced, with a way to retry', async () => {
    const s = await signedIn(gw);
    const { page } = s;
    let fail = true;
    await page.route('**/charges', (route) => (fail ? route.abort('connectionreset') : route.continue()));
    await nav(page).getByRole('link', { name: 'Billing' }).click();
    const charges = page.getByRole('region', { name: 'Charges' });
    await expect.poll(() => charges.getByRole('alert').innerText()).toMatch(/^The gateway could not be reached\. Check the connection and try again\.\s*Try again$/);
    fail = false;
    await charges.getByRole('button', { name: 'Try again' }).click();
    await expect.poll(() => charges.innerText()).toMatch(/Total\s*\$0\.00/);
    expect(await charges.getByRole('alert').count()).toBe(0);
    await s.context.close();
  });
});

describe('look and access', () => {
  it('control borders are at least 3:1 against their background, every control has a focus ring of 2 px or more, and nothing is cut at 320 px', async () => {
    const s = await signedIn(gw);
    const { page } = s;
    await addCard(gw, s.token, s.id);
    // Keyboard use first: the ring is drawn for :focus-visible, as for someone tabbing.
    const audit = () =>
      page.keyboard.press('Shift').then(() => page.evaluate(() => {
        const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
        const lum = ([r, g, b]: number[]) => {
          const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
          return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
        };
        const ratio = (a: number[], b: number[]) => {
          const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
          return (x! + 0.05) / (y! + 0.05);
        };
        const behind = (el: Element): number[] => {
          for (let p = el.parentElement; p; p = p.parentElement) {
            const c = rgb(getComputedStyle(p).backgroundColor);
            if (c.length === 3 || (c.length === 4 && c[3]! > 0)) return c.slice(0, 3);
          }
          return [255, 255, 255];
        };
        const problems: string[] = [];
        let checked = 0;
        const controls = [...document.querySelectorAll('button, input, select, textarea, a[href]')] as HTMLElement[];
        for (const el of controls) {
          // Hidden controls, and disabled ones (WCAG 1.4.11 exempts inactive controls; they take no focus).
          if (!el.offsetParent || (el as HTMLButtonElement).disabled) continue;
          const cs = getComputedStyle(el);
          const name = el.getAttribute('aria-label') ?? el.textContent?.trim() ?? el.tagName;
          // Links (and buttons drawn as links) are marked by their text, not a box; radios are
          // the platform's own (accent-coloured) control: both are checked for the focus ring only.
          const boxed = !el.classList.contains('link') && el.tagName !== 'A' && !['radio', 'checkbox'].includes((el as HTMLInputElement).type);
          if (boxed) {
            const border = rgb(cs.borderTopColor);
            const widthPx = parseFloat(cs.borderTopWidth);
            const own = rgb(cs.backgroundColor);
            // A filled control is told apart by its fill, else by its border.
            const edge = widthPx > 0 ? border : own;
            if (ratio(edge, behind(el)) < 3) problems.push(`${name}: border ${cs.borderTopColor} on ${behind(el).join(',')} (${ratio(edge, behind(el)).toFixed(2)}:1)`);
          }
          el.focus();
          const f = getComputedStyle(el);
          if (f.outlineStyle === 'none' || parseFloat(f.outlineWidth) < 2) problems.push(`${name}: focus ring ${f.outlineStyle} ${f.outlineWidth}`);
          checked++;
        }
        return { problems, checked };
      }));
    // Every screen, and the open buy steps.
    for (const link of ['Calls', 'Usage', 'Billing']) {
      await nav(page).getByRole('link', { name: link }).click();
      await page.waitForTimeout(300);
      const r = await audit();
      expect(r.problems, link).toEqual([]);
      expect(r.checked).toBeGreaterThan(5);
    }
    await page.getByRole('button', { name: /^Minutes remaining: / }).click();
    await page.getByRole('button', { name: 'Add More Minutes' }).click();
    expect((await audit()).problems).toEqual([]);

    // 320 px: nothing wider than the screen, on every screen.
    await page.setViewportSize({ width: 320, height: 640 });
    for (const link of ['Calls', 'Usage', 'Billing']) {
      await nav(page).getByRole('link', { name: link }).click();
      await page.waitForTimeout(300);
      expect(await page.evaluate(() => document.documentElement.scrollWidth), link).toBeLessThanOrEqual(320);
      const box = await page.getByRole('button', { name: /^Minutes remaining: / }).boundingBox();
      expect(box!.x + box!.width).toBeLessThanOrEqual(320);
    }
    // Touch targets: no button under 32 px tall (the header's "Sign out" link; the rest are 44 px).
    const small = await page.evaluate(() =>
      [...document.querySelectorAll('button')].filter((b) => b.offsetParent && b.getBoundingClientRect().height < 32).map((b) => b.textContent),
    );
    expect(small).toEqual([]);
    await s.context.close();
  });
});
