// The verification middleware itself, fed every verified public vector, and the real
// gateway refusing tampered, wrongly-keyed and unsigned webhooks without any change.
import { readFileSync } from 'node:fs';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayMetrics, Metrics } from '../src/metrics.js';
import { verifyTwilio } from '../src/twilio/webhook-routes.js';
import { TwilioSignatures } from '../src/twilio/webhooks.js';
import { createAccount, startTestGateway, type TestGateway } from './support/gateway.js';
import { answeredCallSignals, placeSoftphoneCall } from './support/calls.js';

interface Vector {
  id: string;
  url: string;
  params: Record<string, string | string[]>;
  body?: string;
  authToken: string;
  expectedSignature: string;
  verified: boolean;
}
const vectors = (
  JSON.parse(readFileSync(new URL('./fixtures/twilio-vectors.json', import.meta.url), 'utf8')) as {
    signatureVectors: Vector[];
  }
).signatureVectors.filter((v) => v.verified);

function appFor(v: Vector) {
  const u = new URL(v.url);
  const base = `${u.protocol}//${u.username ? `${u.username}:${u.password}@` : ''}${u.host}`;
  const app = new Hono();
  app.use('*', verifyTwilio(new TwilioSignatures(v.authToken, base, gatewayMetrics(new Metrics()))));
  app.all('*', (c) => c.text('ok'));
  app.onError((err, c) => c.text(err.message, (err as { status?: 403 }).status ?? 500));
  return { app, path: v.url.slice(v.url.indexOf('/', v.url.indexOf('//') + 2)) };
}

function requestFor(v: Vector, signature: string | undefined, mutate?: (p: URLSearchParams) => void) {
  const headers: Record<string, string> = {};
  if (signature !== undefined) headers['x-twilio-signature'] = signature;
  if (v.url.startsWith('wss:')) return { method: 'GET', headers };
  if (v.body !== undefined) return { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: v.body };
  const form = new URLSearchParams();
  for (const [k, val] of Object.entries(v.params)) for (const x of [val].flat()) form.append(k, x);
  mutate?.(form);
  return { method: 'POST', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() };
}

describe('every verified signature vector', () => {
  it.each(vectors.map((v) => [v.id, v] as const))('%s passes the middleware; tampering does not', async (_id, v) => {
    const { app, path } = appFor(v);
    expect((await app.request(path, requestFor(v, v.expectedSignature))).status).toBe(200);
    expect((await app.request(path, requestFor(v, undefined))).status).toBe(403);
    const wrongKey = { ...v, authToken: `${v.authToken}x` };
    expect((await appFor(wrongKey).app.request(path, requestFor(v, v.expectedSignature))).status).toBe(403);
    if (v.body === undefined && !v.url.startsWith('wss:')) {
      const tampered = requestFor(v, v.expectedSignature, (p) => p.set(Object.keys(v.params)[0]!, 'tampered'));
      expect((await app.request(path, tampered)).status).toBe(403);
      const added = requestFor(v, v.expectedSignature, (p) => p.append('Extra', '1'));
      expect((await app.request(path, added)).status).toBe(403);
    }
  });
});

describe('the gateway refuses badly signed webhooks and changes nothing', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw.stop();
  });

  it('403 for a tampered parameter, a wrong token or a missing header, on /twilio/voice and /twilio/status', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 5 });
    const before = (await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json;
    const voiceParams = { CallSid: 'CA0123456789abcdef0123456789abcdef', From: `client:${a.identity}`, To: '+14155550100' };
    expect((await gw.twilio('/twilio/voice', voiceParams, { token: 'not-the-token' })).status).toBe(403);
    expect((await gw.twilio('/twilio/voice', voiceParams, { signature: '' })).status).toBe(403);
    const good = await gw.twilio('/twilio/voice', { ...voiceParams, To: '+14155550101' }, { token: 'x' });
    expect(good.status).toBe(403);
    // A valid signature of other parameters does not carry over (tampered To).
    const { signForm } = await import('./support/twilio-sign.js');
    const sig = signForm('test-auth-token-0123456789abcdef', 'https://gw.example.test/twilio/voice', voiceParams).signature;
    const res = await fetch(`${gw.url}/twilio/voice`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sig },
      body: new URLSearchParams({ ...voiceParams, To: '+19995550000' }).toString(),
    });
    expect(res.status).toBe(403);
    expect((await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json).toEqual(before);

    const call = await placeSoftphoneCall(gw, a.identity);
    const after = (await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json;
    for (const s of answeredCallSignals(call.callSid, 300)) {
      expect((await gw.twilio('/twilio/status', s, { token: 'wrong' })).status).toBe(403);
      expect((await gw.twilio('/twilio/status', s, { signature: '' })).status).toBe(403);
    }
    expect((await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json).toEqual(after);
  });

  it('answers 503 on Twilio routes when no auth token is configured — never unsigned acceptance', async () => {
    const bare = await startTestGateway({ env: { TWILIO_AUTH_TOKEN: '' } });
    try {
      const r = await bare.twilio('/twilio/voice', { CallSid: 'CA0123456789abcdef0123456789abcdef' });
      expect(r.status).toBe(503);
      expect(r.text).toContain('TWILIO_AUTH_TOKEN');
    } finally {
      await bare.stop();
    }
  });
});

describe('without PUBLIC_BASE_URL (development only)', () => {
  it('checks signatures against the Host the request was sent to, and still refuses bad ones', async () => {
    const { signForm } = await import('./support/twilio-sign.js');
    const gw = await startTestGateway({ env: { PUBLIC_BASE_URL: '' } });
    try {
      const a = await createAccount(gw, { monthlyMinutes: 5 });
      const params = { CallSid: 'CA0123456789abcdef0123456789abcd01', From: `client:${a.identity}`, To: '+14155550100' };
      const post = (base: string, token = 'test-auth-token-0123456789abcdef') => {
        const { body, signature } = signForm(token, `${base}/twilio/voice`, params);
        return fetch(`${gw.url}/twilio/voice`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
          body,
        });
      };
      const ok = await post(`http://127.0.0.1:${gw.port}`);
      expect(ok.status).toBe(200);
      const twiml = await ok.text();
      expect(twiml).toContain(`action="http://127.0.0.1:${gw.port}/twilio/status?a=${a.id}"`);
      expect((await post('https://elsewhere.example')).status).toBe(403);
      expect((await post(`http://127.0.0.1:${gw.port}`, 'wrong')).status).toBe(403);
    } finally {
      await gw.stop();
    }
  });
});
