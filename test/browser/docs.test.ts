// The documentation page (/docs, Swagger UI) in a real browser under its own
// Content-Security-Policy: it renders every operation and "Try it out" reaches the gateway,
// with nothing the policy refused and no script error.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchBrowser, phonePage } from '../support/browser.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let browser: Browser;
let gw: TestGateway;
beforeAll(async () => {
  [browser, gw] = await Promise.all([launchBrowser(), startTestGateway()]);
});
afterAll(async () => {
  await browser?.close();
  await gw?.stop();
});

it('Swagger UI works under the page’s CSP: operations listed, a request tried from the page', async () => {
  const res = await fetch(`${gw.url}/docs`);
  expect(res.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
  await res.arrayBuffer();

  const { context, page, errors } = await phonePage(browser);
  // Anything the page fetched from another origin would be a leak (and refused by the CSP).
  const foreign: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(gw.url) && !r.url().startsWith('data:')) foreign.push(r.url());
  });
  await page.goto(`${gw.url}/docs`);
  // The operations of the document are rendered (by the bundle, from /openapi.json).
  const health = page.locator('#operations-ops-getHealthz');
  await health.waitFor({ timeout: 15_000 });
  expect(await page.locator('.opblock').count()).toBeGreaterThan(20);

  // Try it out: the page's own fetch to the gateway goes through (connect-src 'self').
  await health.locator('.opblock-summary').click();
  await health.getByRole('button', { name: 'Try it out' }).click();
  await health.getByRole('button', { name: 'Execute' }).click();
  await expect.poll(async () => (await health.locator('.live-responses-table tbody .response-col_status').first().textContent())?.trim()).toBe('200');

  expect(errors).toEqual([]);
  expect(foreign).toEqual([]);
  await context.close();
});
