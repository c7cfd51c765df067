// Twilio Media Streams: a signed handshake, the documented frames, and what follows.
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeTwilioSignature } from '../src/twilio/signature.js';
import { createAccount, PUBLIC_BASE_URL, startTestGateway, TEST_AUTH_TOKEN, type TestGateway } from './support/gateway.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from './support/calls.js';
import { openSocket, wsUrl } from './support/ws-client.js';

const fixtures = JSON.parse(readFileSync(new URL('./fixtures/twilio-vectors.json', import.meta.url), 'utf8'));
const documented: any[] = fixtures.mediaStreamsMessages.fromTwilio;

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ env: { MEDIA_STREAMS: 'on' } });
});
afterAll(async () => {
  await gw.stop();
});

const mediaUrl = () => wsUrl(gw.url, '/twilio/media');
const signature = (url = `${PUBLIC_BASE_URL.replace(/^https/, 'wss')}/twilio/media`) => computeTwilioSignature(TEST_AUTH_TOKEN, url, {});

function streamSocket(headers: Record<string, string>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(mediaUrl(), { headers });
    ws.on('open', () => resolve(ws));
    ws.on('unexpected-response', (_q, res) => reject(Object.assign(new Error('refused'), { status: res.statusCode })));
    ws.on('error', reject);
  });
}

describe('Media Streams', () => {
  it('refuses unsigned and badly signed upgrades with 403', async () => {
    await expect(streamSocket({})).rejects.toMatchObject({ status: 403 });
    await expect(streamSocket({ 'x-twilio-signature': computeTwilioSignature('wrong', `${PUBLIC_BASE_URL}/twilio/media`, {}) })).rejects.toMatchObject({ status: 403 });
    // Signed over https:// instead of wss:// is not what Twilio signs.
    await expect(streamSocket({ 'x-twilio-signature': signature(`${PUBLIC_BASE_URL}/twilio/media`) })).rejects.toMatchObject({ status: 403 });
  });

  it('asks for a stream in the TwiML, marks the call live on start, counts media, never debits on stop', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const tok = (await gw.admin('POST', `/v1/accounts/${a.id}/staff/alice/token`)).json.token;
    const dash = await openSocket(wsUrl(gw.url), { authorization: `Bearer ${tok}` });
    await dash.next((m) => m.type === 'balance');
    const call = await placeSoftphoneCall(gw, a.identity);
    expect(call.twiml).toContain('<Start><Stream url="wss://gw.example.test/twilio/media">');
    expect(call.twiml).toContain(`<Parameter name="callSid" value="${call.callSid}"/>`);
    const before = (await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json;

    const ws = await streamSocket({ 'x-twilio-signature': signature() });
    const swap = (m: any) => JSON.parse(JSON.stringify(m).replaceAll('CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX', call.callSid));
    const [connected, start, media1, media2, dtmf, mark, stop] = documented.map(swap);
    ws.send(JSON.stringify(connected));
    ws.send(JSON.stringify(start));
    const started = await dash.next((m) => m.type === 'call' && m.event === 'started');
    expect(started).toMatchObject({ callSid: call.callSid, streamSid: start.streamSid, customParameters: { FirstName: 'Jane', RemoteParty: 'Bob' } });
    for (let i = 0; i < 200; i++) ws.send(JSON.stringify(i % 2 ? media1 : media2));
    ws.send(JSON.stringify(dtmf));
    ws.send(JSON.stringify(mark));
    ws.send('{"event": "media", "sequenceNumber": "9", "media": {"payload": "AA=="}}'); // other key spacing
    ws.send('garbage');
    ws.send('{"no":"event"}');
    ws.send(JSON.stringify(stop));
    await new Promise((r) => setTimeout(r, 200));
    expect(gw.media.stats.mediaFrames).toBeGreaterThanOrEqual(201);
    expect(gw.media.stats.malformedFrames).toBeGreaterThanOrEqual(2);
    // The stream's stop changed no minutes.
    expect((await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json).toEqual(before);
    ws.close();

    // The call ends through its signals; "started" was announced once.
    await postAll(gw, answeredCallSignals(call.callSid, 61));
    await dash.next((m) => m.type === 'call' && m.event === 'ended');
    expect(dash.messages.filter((m) => m.type === 'call' && m.event === 'started')).toHaveLength(0);
    dash.close();
  });

  it('closes a stream naming a call it does not know, and survives a socket closed without stop', async () => {
    const unknownBefore = gw.media.stats.unknownCalls;
    const ws = await streamSocket({ 'x-twilio-signature': signature() });
    ws.send(JSON.stringify({ ...documented[1], start: { ...documented[1].start, callSid: 'CAnever0000000000000000000000000' } }));
    const closed = await new Promise<number>((r) => ws.on('close', (code) => r(code)));
    expect(closed).toBe(1008);
    expect(gw.media.stats.unknownCalls).toBe(unknownBefore + 1);
    ws.terminate();
    await new Promise((r) => setTimeout(r, 100));
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });

  it('accepts the wss:// form of a plain-http base (as the issue asks), and the ws:// one', async () => {
    const plain = await startTestGateway({ env: { MEDIA_STREAMS: 'on', PUBLIC_BASE_URL: 'http://gw.example.test:8080' } });
    try {
      for (const signed of ['wss://gw.example.test:8080/twilio/media', 'ws://gw.example.test:8080/twilio/media']) {
        const ws = await new Promise<WebSocket>((resolve, reject) => {
          const w = new WebSocket(wsUrl(plain.url, '/twilio/media'), { headers: { 'x-twilio-signature': signature(signed) } });
          w.on('open', () => resolve(w));
          w.on('unexpected-response', (_q, res) => reject(Object.assign(new Error('refused'), { status: res.statusCode })));
        });
        ws.close();
      }
      await expect(
        new Promise((resolve, reject) => {
          const w = new WebSocket(wsUrl(plain.url, '/twilio/media'), { headers: { 'x-twilio-signature': signature('wss://other.example/twilio/media') } });
          w.on('open', resolve);
          w.on('unexpected-response', (_q, res) => reject(Object.assign(new Error('refused'), { status: res.statusCode })));
        }),
      ).rejects.toMatchObject({ status: 403 });
    } finally {
      await plain.stop();
    }
  });
});
