// The web app in a real browser (headless Chromium) against the real gateway and Redis:
// sign-in by link, the live counter, calls moving it, the banners, a gateway restart.
import { writeFile, mkdir } from 'node:fs/promises';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staffToken } from '../support/billing.js';
import { launchBrowser, phonePage } from '../support/browser.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from '../support/calls.js';
import { createAccount, deleteKeys, startTestGateway, uniquePrefix, type TestGateway } from '../support/gateway.js';

let browser: Browser;
let gw: TestGateway;
const prefix = uniquePrefix('web');

beforeAll(async () => {
  // keepKeys: the restart test brings a new instance up on the same prefix and port.
  [browser, gw] = await Promise.all([launchBrowser(), startTestGateway({ prefix, keepKeys: true })]);
});
afterAll(async () => {
  await browser?.close();
  await gw?.stop();
  const r = await startTestGateway({ prefix });
  await r.stop(); // removes the run's keys
});

async function signedIn(monthlyMinutes = 100, billingAnchor?: string) {
  const a = await createAccount(gw, { monthlyMinutes, ...(billingAnchor ? { billingAnchor } : {}) });
  const token = await staffToken(gw, a.id);
  const { context, page, errors } = await phonePage(browser);
  await page.goto(`${gw.url}/app#token=${token}`);
  return { ...a, token, context, page, errors };
}

describe('the web app', () => {
  it('serves hashed assets for a year and the page itself with no-cache', async () => {
    const page = await fetch(`${gw.url}/app`);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    // Everything the app loads comes from the gateway itself (the browser tests run under it).
    expect(page.headers.get('content-security-policy')).toMatch(/^default-src 'self';/);
    const html = await page.text();
    const js = /src="(\/app\/assets\/index-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    expect(js).toBeTruthy();
    const asset = await fetch(gw.url + js);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toMatch(/^text\/javascript/);
    // Precompressed by the build: the same bytes, a fraction of the size on the wire.
    const plain = await (await fetch(gw.url + js, { headers: { 'accept-encoding': 'identity' } })).arrayBuffer();
    for (const enc of ['br', 'gzip']) {
      const packed = await fetch(gw.url + js, { headers: { 'accept-encoding': enc } });
      expect(packed.headers.get('content-encoding')).toBe(enc);
      expect(Number(packed.headers.get('content-length'))).toBeLessThan(plain.byteLength / 2);
      expect(Buffer.from(await packed.arrayBuffer()).equals(Buffer.from(plain))).toBe(true);
    }
    expect((await fetch(`${gw.url}/app/assets/..%2F..%2Fpackage.json`)).status).toBe(404);
    expect((await fetch(`${gw.url}/app/assets/nope-123.js`)).status).toBe(404);
  });

  it('signs in by link: the counter shows the balance, the fragment is gone, the token kept for the tab', async () => {
    const s = await signedIn(100);
    await expect.poll(() => s.page.getByRole('button', { name: 'Minutes remaining: 100' }).count()).toBe(1);
    expect(new URL(s.page.url()).hash).toBe('');
    // Kept for the browser (localStorage): new tabs are signed in too, until it expires.
    expect(await s.page.evaluate(() => localStorage.getItem('minutegate.token'))).toBe(s.token);
    const text = await s.page.locator('body').innerText();
    expect(text).toMatch(/Plan:?\s*100/);
    expect(text).toMatch(/Used this cycle:?\s*0/);
    expect(text).toMatch(/Overage:?\s*0/);
    expect(text).toMatch(/Resets on \w{3} \d{1,2}, \d{4}/);
    // A reload keeps the session, without the link.
    await s.page.reload();
    await expect.poll(() => s.page.getByRole('button', { name: 'Minutes remaining: 100' }).count()).toBe(1);
    expect(s.errors).toEqual([]);
    await s.context.close();
  });

  it('a bad or expired link gets a clear message', async () => {
    const { context, page } = await phonePage(browser);
    await page.goto(`${gw.url}/app#token=not-a-token`);
    await expect.poll(() => page.getByRole('alert').innerText()).toMatch(/sign-in link is not valid/);
    const a = await createAccount(gw);
    const real = await staffToken(gw, a.id);
    // Same claims, wrong signature: only the gateway can tell.
    await page.goto(`${gw.url}/app#token=${real.slice(0, -4)}AAAA`);
    await page.reload();
    await expect.poll(() => page.getByRole('alert').innerText()).toMatch(/not valid or has expired/);
    expect(await page.evaluate(() => localStorage.getItem('minutegate.token'))).toBeNull();
    await context.close();
  });

  it('a call moves the counter at once (within 2 s, on a loaded test machine), live in "Active calls" and then in "Recent calls"', async () => {
    const s = await signedIn(100);
    const counter = (n: number) => s.page.getByRole('button', { name: `Minutes remaining: ${n}` });
    await expect.poll(() => counter(100).count()).toBe(1);

    const call = await placeSoftphoneCall(gw, s.identity, '+14155550123');
    expect(call.allowed).toBe(true);
    // The hold of one minute shows at once — beside the counter, which does not move for it.
    await expect.poll(() => s.page.locator('.counter-wrap').innerText(), { timeout: 2000 }).toContain('1 held for calls in progress');
    expect(await counter(100).count()).toBe(1);
    const signals = answeredCallSignals(call.callSid, 125);
    await postAll(gw, signals.slice(0, 3)); // initiated, ringing, answered
    const active = s.page.getByRole('region', { name: 'Active calls' });
    await expect.poll(() => active.innerText(), { timeout: 2000 }).toMatch(/alice[\s\S]*to \+14155550123[\s\S]*0:0\d/);
    // The duration ticks.
    await expect.poll(() => active.innerText(), { timeout: 3000 }).toMatch(/0:0[2-9]/);

    await postAll(gw, signals.slice(3));
    const t0 = Date.now();
    await expect.poll(() => counter(97).count(), { timeout: 2000, interval: 20 }).toBe(1);
    expect(Date.now() - t0).toBeLessThan(2000);
    const recent = s.page.getByRole('region', { name: 'Recent calls' });
    await expect.poll(() => recent.innerText()).toMatch(/\+14155550123[\s\S]*2:05[\s\S]*3 min/);
    await expect.poll(() => active.innerText()).toContain('No calls right now');
    expect(await s.page.locator('.counter-wrap').innerText()).not.toContain('held');
    // The usage chart (Usage screen) follows the call.
    await s.page.getByRole('navigation').getByRole('link', { name: 'Usage' }).click();
    const usage = s.page.getByRole('region', { name: 'Usage', exact: true });
    await expect.poll(() => usage.innerText()).toMatch(/^3 minutes used since /m);
    expect(await usage.getByRole('img').getAttribute('aria-label')).toMatch(/^Minutes used this cycle: 3 minutes used/);
    await s.page.getByRole('navigation').getByRole('link', { name: 'Calls' }).click();

    // A short call (30 s or less) is free.
    const short = await placeSoftphoneCall(gw, s.identity, '+14155550124');
    await postAll(gw, answeredCallSignals(short.callSid, 20));
    await expect.poll(() => recent.innerText()).toMatch(/\+14155550124[\s\S]*0:20[\s\S]*free/);
    await expect.poll(() => counter(97).count()).toBe(1);
    expect(s.errors).toEqual([]);
    await s.context.close();
  });

  it('shows "Low on minutes" at 10 % of the plan and "Out of minutes" at none', async () => {
    const s = await signedIn(100);
    await expect.poll(() => s.page.getByRole('button', { name: 'Minutes remaining: 100' }).count()).toBe(1);
    expect(await s.page.getByRole('alert').count()).toBe(0);
    await gw.admin('POST', `/v1/accounts/${s.id}/adjustments`, { minutes: -91, reason: 'test' });
    await expect.poll(() => s.page.getByRole('alert').innerText()).toMatch(/^Low on minutes: 9 minutes left\s*Add minutes$/);
    // Its button opens the quantity step.
    await s.page.getByRole('alert').getByRole('button', { name: 'Add minutes' }).click();
    await expect.poll(() => s.page.getByRole('region', { name: 'Buy minutes' }).getByLabel('Minutes', { exact: true }).count()).toBe(1);
    await gw.admin('POST', `/v1/accounts/${s.id}/adjustments`, { minutes: -9, reason: 'test' });
    await expect.poll(() => s.page.getByRole('alert').innerText()).toMatch(
      /^Out of minutes — calls in progress continue; new calls need more minutes\s*Add minutes$/,
    );
    await gw.admin('POST', `/v1/accounts/${s.id}/adjustments`, { minutes: 50, reason: 'test' });
    await expect.poll(() => s.page.getByRole('alert').count()).toBe(0);
    await s.context.close();
  });

  it("shows the banner from the gateway's alert frame at the account's own threshold, and drops it when minutes are added", async () => {
    const s = await signedIn(100);
    await expect.poll(() => s.page.getByRole('button', { name: 'Minutes remaining: 100' }).count()).toBe(1);
    const set = await gw.as(s.token, 'PUT', `/v1/accounts/${s.id}/alerts`, { thresholdsMinutes: [50], email: false, webhook: false });
    expect(set.status).toBe(200);
    // 45 left is far above 10 % of the plan: only the alert frame can raise the banner.
    await gw.admin('POST', `/v1/accounts/${s.id}/adjustments`, { minutes: -55, reason: 'test' });
    await expect.poll(() => s.page.getByRole('alert').innerText()).toMatch(/^Low on minutes: 45 minutes left/);
    await gw.admin('POST', `/v1/accounts/${s.id}/adjustments`, { minutes: 10, reason: 'test' });
    await expect.poll(() => s.page.getByRole('button', { name: 'Minutes remaining: 55' }).count()).toBe(1);
    await expect.poll(() => s.page.getByRole('alert').count()).toBe(0);
    expect(s.errors).toEqual([]);
    await s.context.close();
  });

  it('signs the tab out when the staff member is removed (the gateway closes the socket for good)', async () => {
    const s = await signedIn(100);
    await expect.poll(() => s.page.getByRole('button', { name: 'Minutes remaining: 100' }).count()).toBe(1);
    expect((await gw.admin('DELETE', `/v1/accounts/${s.id}/staff/alice`)).status).toBe(204);
    await expect.poll(() => s.page.getByRole('alert').innerText(), { timeout: 10_000 }).toMatch(/Your sign-in has ended — ask for a new link/);
    expect(await s.page.evaluate(() => localStorage.getItem('minutegate.token'))).toBeNull();
    await s.context.close();
  });

  it('a slow calls reply never hides the call frames that arrived while it was in flight', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 100 });
    const token = await staffToken(gw, a.id);
    const { context, page, errors } = await phonePage(browser);
    // Hold the lists' replies (fetched from the gateway before the calls end) until after
    // the socket has delivered the calls' frames.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let asked = 0;
    await page.route('**/calls?state=*', async (route) => {
      // The calls not connected (a list of their own) are not what this test holds back.
      if (route.request().url().includes('state=refused')) return route.continue();
      asked++;
      const reply = await route.fetch();
      await held;
      await route.fulfill({ response: reply });
    });
    await page.goto(`${gw.url}/app#token=${token}`);
    await expect.poll(() => page.getByRole('button', { name: 'Minutes remaining: 100' }).count()).toBe(1);
    await expect.poll(() => asked).toBe(2);
    const call = await placeSoftphoneCall(gw, a.identity, '+14155550155');
    await postAll(gw, answeredCallSignals(call.callSid, 14));
    await expect.poll(() => page.getByRole('button', { name: 'Minutes remaining: 100' }).count()).toBe(1);
    await expect.poll(() => page.getByRole('region', { name: 'Recent calls' }).innerText()).toContain('+14155550155');
    release();
    await page.waitForTimeout(300); // the stale replies land
    const recent = await page.getByRole('region', { name: 'Recent calls' }).innerText();
    expect(recent).toContain('+14155550155');
    expect(recent).toContain('free');
    expect(await page.getByRole('region', { name: 'Active calls' }).innerText()).toContain('No calls right now');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('on a phone (390×844): a screenshot for the README', async () => {
    // Twelve days into the cycle, so the usage chart has a past to show.
    const s = await signedIn(500, new Date(Date.now() - 12 * 86400_000).toISOString());
    const call = await placeSoftphoneCall(gw, s.identity, '+14155550188');
    await postAll(gw, answeredCallSignals(call.callSid, 60).slice(0, 3));
    const done = await placeSoftphoneCall(gw, s.identity, '+14155550177');
    await postAll(gw, answeredCallSignals(done.callSid, 184));
    const short = await placeSoftphoneCall(gw, s.identity, '+14155550166');
    await postAll(gw, answeredCallSignals(short.callSid, 14));
    await expect.poll(() => s.page.getByRole('region', { name: 'Active calls' }).innerText()).toContain('+14155550188');
    await expect.poll(() => s.page.getByRole('region', { name: 'Recent calls' }).innerText()).toContain('free');
    await s.page.getByRole('button', { name: /^Minutes remaining: / }).click();
    await s.page.waitForTimeout(1300); // the change highlight fades
    expect(call.allowed).toBe(true);
    // Mobile first: nothing wider than the phone, the counter at the top right.
    expect(await s.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const box = await s.page.getByRole('button', { name: /^Minutes remaining: / }).boundingBox();
    expect(box!.x).toBeGreaterThan(390 / 2);
    expect(box!.y).toBeLessThan(60);
    const png = await s.page.screenshot({ fullPage: false });
    // docs/screenshot-phone.png is refreshed on request only, so a test run leaves the tree clean.
    if (process.env.UPDATE_SCREENSHOTS === '1') {
      await mkdir('docs', { recursive: true });
      await writeFile('docs/screenshot-phone.png', png);
    }
    await s.context.close();
  });

  it('says "Offline" with the figures\' time within 5 s of losing the gateway, then the fresh balance without a reload', async () => {
    const s = await signedIn(100);
    const counter = (n: number) => s.page.getByRole('button', { name: `Minutes remaining: ${n}` });
    await expect.poll(() => counter(100).count()).toBe(1);
    await s.page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    const port = gw.port;
    await gw.stop();
    const lost = Date.now();
    await expect.poll(() => s.page.getByRole('status').first().innerText(), { timeout: 5000 }).toMatch(/^Offline — figures from \d{1,2}:\d{2}:\d{2} [AP]M$/);
    expect(Date.now() - lost).toBeLessThan(5000);
    // The balance changes while the app is away: it must show the fresh one, not the last frame.
    gw = await startTestGateway({ prefix, keepKeys: true, port });
    await gw.admin('POST', `/v1/accounts/${s.id}/adjustments`, { minutes: -7, reason: 'while away' });
    await expect.poll(() => counter(93).count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => s.page.getByRole('status').first().innerText()).toBe('');
    // Same page, no reload.
    expect(await s.page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(42);
    await s.context.close();
  });
});
