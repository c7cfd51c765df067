// The demo's softphone (issue #20, "The demo") in headless Chromium: the demo's pieces —
// its fake Twilio (scripts/demo/fake-twilio.ts) and a gateway given its URL and made-up
// Twilio settings, as `npm run demo` wires them — and the real /app/phone page. The page
// gets a voice token from the gateway, dials through the fake Twilio, which plays the
// signed webhooks; the call is up until the test hangs up; the counter moves by R4's
// minutes when it ends.
//
// Time: a 31+ s call would be too slow to wait for, so the test moves two clocks by the
// same amount while the call is up — the fake Twilio's (the clock knob it takes: the talk
// time it reports is measured on it) and the page's (Playwright's clock, so the call timer
// shows the same time). Everything else runs as in the demo.
import type { Browser, WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { demoTwilioEnv, demoTwilioSettings, startFakeTwilio, type FakeTwilio } from '../../scripts/demo/fake-twilio.js';
import { staffToken } from '../support/billing.js';
import { launchBrowser, phonePage } from '../support/browser.js';
import { createAccount, PUBLIC_BASE_URL, startTestGateway, TEST_AUTH_TOKEN, type TestGateway } from '../support/gateway.js';

let browser: Browser;
let gw: TestGateway;
let plain: TestGateway; // not the demo: no fake Twilio named
let twilio: FakeTwilio;
/** How far the fake Twilio's clock runs ahead of real time. */
let skewMs = 0;
const settings = demoTwilioSettings();

beforeAll(async () => {
  twilio = await startFakeTwilio({ settings, authToken: TEST_AUTH_TOKEN, clock: () => Date.now() + skewMs, ringMs: 300 });
  [browser, gw, plain] = await Promise.all([
    launchBrowser(),
    startTestGateway({ env: demoTwilioEnv(settings, twilio.url), demoTwilioUrl: twilio.url }),
    startTestGateway({ env: demoTwilioEnv(settings, 'http://127.0.0.1:9') }),
  ]);
  // The test gateway checks signatures over PUBLIC_BASE_URL, as a deployed one does.
  twilio.attach({ url: gw.url, publicBaseUrl: PUBLIC_BASE_URL });
});
afterAll(async () => {
  await browser?.close();
  await Promise.all([gw?.stop(), plain?.stop(), twilio?.close()]);
});

async function openDemoPhone(monthlyMinutes: number) {
  const a = await createAccount(gw, { monthlyMinutes });
  const token = await staffToken(gw, a.id);
  const { context, page, errors } = await phonePage(browser);
  await context.grantPermissions(['microphone']);
  // Nothing may reach Twilio itself in the demo.
  const twilioSockets: string[] = [];
  await page.routeWebSocket(/twilio\.com/, (ws: WebSocketRoute) => void twilioSockets.push(ws.url()));
  await page.goto(`${gw.url}/app/phone#token=${token}`);
  await expect.poll(() => page.getByLabel(`Minutes remaining: ${monthlyMinutes}`).count()).toBe(1);
  await expect.poll(() => page.getByText("Demo: calls go through the demo's stand-in for Twilio").count()).toBe(1);
  for (const k of '+14155550100') await page.getByRole('button', { name: `Dial ${k}` }).click();
  return { ...a, token, context, page, errors, twilioSockets };
}

const callOf = async (accountId: string, callSid: string) => (await gw.admin('GET', `/v1/accounts/${accountId}/calls/${callSid}`)).json;

describe('the demo softphone', () => {
  it('dials through the fake Twilio: the timer runs while the call is up, and hanging up after 1:35 moves the counter by 2 minutes', async () => {
    const s = await openDemoPhone(100);
    const before = twilio.calls().length;
    await s.page.getByRole('button', { name: 'Call' }).click();
    const timer = s.page.getByRole('timer', { name: 'Call time' });
    await expect.poll(() => timer.count(), { timeout: 10_000 }).toBe(1);
    expect(await s.page.getByRole('status').innerText()).toBe('In call with +14155550100');
    const [parent, leg] = twilio.calls().slice(before);
    expect(parent).toMatchObject({ from: `client:${s.identity}`, to: '+14155550100', status: 'in-progress' });
    expect(leg).toMatchObject({ parentCallSid: parent!.sid, to: '+14155550100', status: 'in-progress' });
    // The gateway placed the call (its authorization bound) and holds a minute; the counter
    // (the balance) does not move for the hold, the line beside it says so.
    expect(await callOf(s.id, parent!.sid)).toMatchObject({ state: 'active', staffId: 'alice', to: '+14155550100' });
    expect((await gw.admin('GET', `/v1/accounts/${s.id}/balance`)).json).toMatchObject({ balance: 100, reserved: 1, available: 99 });
    expect(await s.page.getByLabel('Minutes remaining: 100').count()).toBe(1);
    expect(await s.page.getByText('1 held for calls in progress').count()).toBe(1);

    // Talk: a real second or two, then both clocks jump 93 s ahead.
    await expect.poll(() => timer.innerText()).toMatch(/^0:0[12]$/);
    skewMs = 93_000;
    await s.page.clock.setSystemTime(Date.now() + skewMs);
    await expect.poll(() => timer.innerText()).toMatch(/^1:3[4-9]$/);
    await s.page.getByRole('button', { name: 'Hang up' }).click();

    await expect.poll(() => s.page.getByRole('status').innerText(), { timeout: 10_000 }).toMatch(/^Call ended after 1:3[4-9]\.$/);
    // R4: 94–99 s of talk is 2 minutes, debited once when the call ends.
    await expect.poll(() => s.page.getByLabel('Minutes remaining: 98').count(), { timeout: 10_000 }).toBe(1);
    expect(await timer.count()).toBe(0);
    expect(await s.page.getByText('held for calls in progress').count()).toBe(0);
    const talked = twilio.calls().find((c) => c.sid === leg!.sid)!;
    expect(talked.status).toBe('completed');
    expect(talked.duration).toBeGreaterThanOrEqual(94);
    expect(talked.duration).toBeLessThanOrEqual(99);
    expect(await callOf(s.id, parent!.sid)).toMatchObject({ state: 'ended', billableSeconds: talked.duration, billedMinutes: 2, debitedMinutes: 2 });
    expect((await gw.admin('GET', `/v1/accounts/${s.id}/balance`)).json).toMatchObject({ balance: 98, reserved: 0, available: 98 });
    expect(s.twilioSockets).toEqual([]);
    expect(s.errors).toEqual([]);
    skewMs = 0;
    await s.context.close();
  });

  it('a call of a few seconds is free (R4): the counter stays where it was', async () => {
    const s = await openDemoPhone(50);
    const before = twilio.calls().length;
    await s.page.getByRole('button', { name: 'Call' }).click();
    const timer = s.page.getByRole('timer', { name: 'Call time' });
    await expect.poll(() => timer.count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => timer.innerText()).toMatch(/^0:0[23]$/);
    await s.page.getByRole('button', { name: 'Hang up' }).click();
    await expect.poll(() => s.page.getByRole('status').innerText(), { timeout: 10_000 }).toMatch(/^Call ended after 0:0\d\.$/);
    const [parent] = twilio.calls().slice(before);
    await expect.poll(async () => (await callOf(s.id, parent!.sid)).state, { timeout: 10_000 }).toBe('ended');
    expect(await callOf(s.id, parent!.sid)).toMatchObject({ billedMinutes: 0, debitedMinutes: 0 });
    await expect.poll(() => s.page.getByText('held for calls in progress').count()).toBe(0);
    expect(await s.page.getByLabel('Minutes remaining: 50').count()).toBe(1);
    expect((await gw.admin('GET', `/v1/accounts/${s.id}/balance`)).json).toMatchObject({ balance: 50, reserved: 0 });
    expect(s.errors).toEqual([]);
    await s.context.close();
  });

  it('an account with no minutes is refused before the fake Twilio is asked', async () => {
    const s = await openDemoPhone(0);
    const before = twilio.calls().length;
    await s.page.getByRole('button', { name: 'Call' }).click();
    await expect.poll(() => s.page.getByRole('status').innerText()).toContain('Call not placed: No minutes left');
    expect(twilio.calls().length).toBe(before);
    await s.context.close();
  });
});

describe("the demo's fake Twilio", () => {
  /** One invite over the Device socket; the messages the fake sends until it closes. */
  const invite = (body: unknown) =>
    new Promise<any[]>((resolve, reject) => {
      const ws = new WebSocket(`${twilio.url.replace('http', 'ws')}/v1/device`);
      const got: any[] = [];
      ws.on('open', () => ws.send(typeof body === 'string' ? body : JSON.stringify(body)));
      ws.on('message', (m) => {
        got.push(JSON.parse(String(m)));
        // Hang up as soon as the call is answered.
        if (got.at(-1).type === 'accepted') ws.send(JSON.stringify({ type: 'hangup' }));
      });
      ws.on('close', () => resolve(got));
      ws.on('error', reject);
    });

  it('refuses a voice token it did not issue, and places nothing', async () => {
    const before = twilio.calls().length;
    const other = demoTwilioSettings();
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    // A token of the same shape, signed with another API key secret.
    const forged = (await import('twilio')).default.jwt.AccessToken;
    const t = new forged(settings.accountSid, settings.apiKeySid, other.apiKeySecret, { identity: a.identity, ttl: 600 });
    t.addGrant(new forged.VoiceGrant({ outgoingApplicationSid: settings.twimlAppSid }));
    expect(await invite({ type: 'invite', token: t.toJwt(), params: { To: '+14155550100' } })).toEqual([
      { type: 'rejected', message: expect.stringContaining('access token is not valid') },
    ]);
    expect(await invite({ type: 'invite', token: 'not.a.token', params: {} })).toMatchObject([{ type: 'rejected' }]);
    expect(await invite('{not json')).toEqual([]);
    // A frame over the size limit closes that socket only; the server goes on.
    expect(await invite({ type: 'invite', token: 'x'.repeat(20_000), params: {} })).toEqual([]);
    expect((await fetch(`${twilio.url}/2010-04-01/Accounts/${settings.accountSid}/Calls.json`)).status).toBe(401);
    expect(twilio.calls().length).toBe(before);
  });

  it("answers the gateway's REST reads of the calls it placed, with the run's API key only", async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const voice = await gw.as(await staffToken(gw, a.id), 'POST', `/v1/accounts/${a.id}/voice-token`);
    expect(voice.status).toBe(201);
    const said = await invite({ type: 'invite', token: voice.json.token, params: { To: '+14155550177' } });
    expect(said.map((m) => m.type)).toEqual(['ringing', 'accepted', 'ended']);
    const parent = twilio.calls().find((c) => c.sid === said[0].callSid);
    const auth = `Basic ${Buffer.from(`${settings.apiKeySid}:${settings.apiKeySecret}`).toString('base64')}`;
    const base = `${twilio.url}/2010-04-01/Accounts/${settings.accountSid}`;
    expect((await fetch(`${base}/Calls/${parent!.sid}.json`)).status).toBe(401);
    const one = await (await fetch(`${base}/Calls/${parent!.sid}.json`, { headers: { authorization: auth } })).json();
    expect(one).toMatchObject({ sid: parent!.sid, parent_call_sid: null, status: 'completed', from: `client:${a.identity}`, to: '+14155550177' });
    const legs = await (await fetch(`${base}/Calls.json?ParentCallSid=${parent!.sid}`, { headers: { authorization: auth } })).json();
    expect(legs.calls).toMatchObject([{ parent_call_sid: parent!.sid, status: 'completed' }]);
    expect((await fetch(`${base}/Calls/CA${'0'.repeat(32)}.json`, { headers: { authorization: auth } })).status).toBe(404);
  });
});

describe("stopping the demo's fake Twilio", () => {
  it('hangs up the calls in progress and settles them before it stops', async () => {
    const own = await startFakeTwilio({ settings, authToken: TEST_AUTH_TOKEN, ringMs: 100 });
    own.attach({ url: gw.url, publicBaseUrl: PUBLIC_BASE_URL });
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const voice = await gw.as(await staffToken(gw, a.id), 'POST', `/v1/accounts/${a.id}/voice-token`);
    const ws = new WebSocket(`${own.url.replace('http', 'ws')}/v1/device`);
    const said: any[] = [];
    ws.on('message', (m) => said.push(JSON.parse(String(m))));
    ws.on('open', () => ws.send(JSON.stringify({ type: 'invite', token: voice.json.token, params: { To: '+14155550188' } })));
    await expect.poll(() => said.map((m) => m.type)).toEqual(['ringing', 'accepted']);
    expect((await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json).toMatchObject({ reserved: 1 });
    await own.close();
    const call = await callOf(a.id, said[0].callSid);
    expect(call).toMatchObject({ state: 'ended', billedMinutes: 0 });
    expect((await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json).toMatchObject({ balance: 10, reserved: 0 });
  });
});

describe('outside the demo', () => {
  it('names no fake Twilio: config and the phone CSP are the plain ones', async () => {
    const config = await (await fetch(`${plain.url}/app/config.json`)).json();
    expect(config).toMatchObject({ devMode: false });
    expect(config).not.toHaveProperty('demoTwilio');
    expect(await (await fetch(`${gw.url}/app/config.json`)).json()).toMatchObject({ demoTwilio: twilio.url });
    const csp = (await fetch(`${plain.url}/app/phone`)).headers.get('content-security-policy')!;
    expect(csp).toContain("connect-src 'self' https://*.twilio.com wss://*.twilio.com;");
    expect(csp).not.toContain('127.0.0.1');
    const demoCsp = (await fetch(`${gw.url}/app/phone`)).headers.get('content-security-policy')!;
    expect(demoCsp).toContain(`connect-src 'self' https://*.twilio.com wss://*.twilio.com ${twilio.url} ${twilio.url.replace('http', 'ws')};`);
  });
});
