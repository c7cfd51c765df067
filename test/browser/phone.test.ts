// The softphone example (/app/phone) in headless Chromium, up to where Twilio itself
// would be needed: Twilio's signalling socket is answered by the test (page.routeWebSocket)
// so what the Voice SDK would send to Twilio can be read, and nothing leaves the machine.
import type { Browser, Page, WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staffToken } from '../support/billing.js';
import { launchBrowser, phonePage } from '../support/browser.js';
import { createAccount, startTestGateway, type TestGateway } from '../support/gateway.js';

let browser: Browser;
let bare: TestGateway; // no Twilio API settings: voice tokens answer 503 NOT_CONFIGURED
let voice: TestGateway; // voice tokens minted (with made-up SIDs; Twilio is never reached)

beforeAll(async () => {
  [browser, bare, voice] = await Promise.all([
    launchBrowser(),
    startTestGateway(),
    startTestGateway({
      env: {
        TWILIO_ACCOUNT_SID: 'AC' + '0'.repeat(32),
        TWILIO_API_KEY_SID: 'SK' + '1'.repeat(32),
        TWILIO_API_KEY_SECRET: 'test-api-key-secret',
        TWILIO_TWIML_APP_SID: 'AP' + '2'.repeat(32),
        TWILIO_API_BASE_URL: 'http://127.0.0.1:9',
      },
    }),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await Promise.all([bare?.stop(), voice?.stop()]);
});

async function openPhone(gw: TestGateway, monthlyMinutes: number) {
  const a = await createAccount(gw, { monthlyMinutes });
  const token = await staffToken(gw, a.id);
  const { context, page, errors } = await phonePage(browser);
  await context.grantPermissions(['microphone']);
  // Twilio's signalling: every socket to *.twilio.com is answered here, never forwarded.
  const sockets: { url: string; sent: string[] }[] = [];
  const routes: WebSocketRoute[] = [];
  await page.routeWebSocket(/twilio\.com/, (ws: WebSocketRoute) => {
    const s = { url: ws.url(), sent: [] as string[] };
    sockets.push(s);
    routes.push(ws);
    ws.onMessage((m) => {
      s.sent.push(String(m));
      // Answer "listen" the way Twilio does, so the SDK goes on to its invite.
      if (JSON.parse(String(m)).type === 'listen') ws.send(JSON.stringify({ type: 'connected', payload: { region: 'gll', edge: 'roaming' } }));
    });
  });
  await page.goto(`${gw.url}/app/phone#token=${token}`);
  await expect.poll(() => page.getByLabel(`Minutes remaining: ${monthlyMinutes}`).count()).toBe(1);
  return { ...a, token, context, page, errors, sockets, routes };
}

async function dial(page: Page, number: string) {
  for (const k of number) await page.getByRole('button', { name: `Dial ${k}` }).click();
}

describe('softphone example', () => {
  it('explains the Twilio settings it needs when voice tokens are not configured', async () => {
    const s = await openPhone(bare, 100);
    const help = s.page.getByRole('region', { name: 'Twilio settings' });
    await expect.poll(() => help.innerText()).toContain('Twilio is not set up');
    // The header names the account, not its id.
    await expect.poll(() => s.page.locator('.who-am-i').innerText()).toContain(`Account ${s.id}`);
    for (const v of ['TWILIO_ACCOUNT_SID', 'TWILIO_API_KEY_SID', 'TWILIO_API_KEY_SECRET', 'TWILIO_TWIML_APP_SID', '/twilio/voice']) {
      expect(await help.innerText()).toContain(v);
    }
    await dial(s.page, '+14155550100');
    expect(await s.page.getByRole('button', { name: 'Call' }).isDisabled()).toBe(true);
    expect(s.sockets).toEqual([]);
    await s.context.close();
  });

  it('a denial shows its reason and nothing is dialled', async () => {
    const s = await openPhone(voice, 0);
    await dial(s.page, '+14155550100');
    await s.page.getByRole('button', { name: 'Call' }).click();
    await expect.poll(() => s.page.getByRole('status').innerText()).toContain('Call not placed: No minutes left');
    await s.page.waitForTimeout(300);
    expect(s.sockets).toEqual([]);
    await s.context.close();
  });

  it('an allowed call reserves a minute, then hands To and the authorizationId to the Voice SDK; a failed call gives the minute back', async () => {
    const s = await openPhone(voice, 100);
    await dial(s.page, '+14155550100');
    await s.page.getByRole('button', { name: 'Call' }).click();
    // The counter is the balance: the held minute does not move it, the line beside it says so.
    await expect.poll(() => s.page.getByText('1 held for calls in progress').count()).toBe(1);
    expect(await s.page.getByLabel('Minutes remaining: 100').count()).toBe(1);
    // What the Voice SDK sends Twilio: the invite with the custom parameters.
    const invite = await expect
      .poll(() => s.sockets.flatMap((x) => x.sent).map((m) => JSON.parse(m)).find((m) => m.type === 'invite'), { timeout: 10_000 })
      .toBeTruthy()
      .then(() => s.sockets.flatMap((x) => x.sent).map((m) => JSON.parse(m)).find((m) => m.type === 'invite'));
    const params = new URLSearchParams(invite.payload.twilio.params);
    expect(params.get('To')).toBe('+14155550100');
    const authorizationId = params.get('authorizationId')!;
    expect(authorizationId).toMatch(/^az_/);
    expect(await s.page.getByRole('status').innerText()).toBe('Calling +14155550100…');
    // The minute is held by the gateway for this authorization (R2) before Twilio is asked.
    const bal = await voice.as(s.token, 'GET', `/v1/accounts/${s.id}/balance`);
    expect(bal.json).toMatchObject({ reserved: 1, available: 99 });

    // Twilio refuses the call: the app says so and releases the minute at once.
    s.routes[0]!.send(JSON.stringify({ type: 'hangup', payload: { callsid: invite.payload.callsid, error: { code: 31005, message: 'Connection error' } } }));
    await expect.poll(() => s.page.getByRole('status').innerText()).toMatch(/^Call failed/);
    await expect.poll(() => s.page.getByText('held for calls in progress').count()).toBe(0);
    expect(await s.page.getByLabel('Minutes remaining: 100').count()).toBe(1);
    expect((await voice.as(s.token, 'GET', `/v1/accounts/${s.id}/balance`)).json).toMatchObject({ reserved: 0, available: 100 });
    expect(s.errors).toEqual([]);
    await s.context.close();
  });
});
