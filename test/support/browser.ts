// Headless Chromium for the browser tests: the binary ships inside @sparticuz/chromium
// (unpacked once into /tmp by test/support/global-chromium.ts, the browser project's global setup), driven by playwright-core.
// Nothing is downloaded. One browser per test file; one context per test.
import chromium from '@sparticuz/chromium';
import { chromium as playwright, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const PHONE = { width: 390, height: 844 };

export async function launchBrowser(): Promise<Browser> {
  // --single-process (meant for one-shot serverless runs) takes the whole browser down
  // with the first closed context; tests open one context per test.
  // A fake microphone, granted without a prompt, for the softphone's WebRTC offer.
  const args = [
    ...chromium.args.filter((a) => a !== '--single-process'),
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
  ];
  return playwright.launch({ executablePath: await chromium.executablePath(), args, headless: true });
}

/** A phone-sized page; its uncaught errors and CSP violations are collected for the test to check. */
export async function phonePage(browser: Browser): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // Anything the page's Content-Security-Policy blocked counts as an error too.
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) errors.push(m.text());
  });
  return { context, page, errors };
}
