// Twilio Media Streams: a signed handshake on a per-call URL (R18), the documented frames,
// and what follows.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { accountKeys } from '../src/redis/keys.js';
import { mediaTokenKey, mintMediaToken, verifyMediaToken } from '../src/twilio/media-token.js';
import { computeTwilioSignature } from '../src/twilio/signature.js';
import {
  callSid as newCallSid,
  createAccount,
  PUBLIC_BASE_URL,
  startTestGateway,
  TEST_AUTH_TOKEN,
  TEST_STAFF_SECRET,
  type TestGateway,
} from './support/gateway.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from './support/calls.js';
import { openSocket, wsUrl, type TestSocket } from './support/ws-client.js';

const fixtures = JSON.parse(readFileSync(new URL('./fixtures/twilio-vectors.json', import.meta.url), 'utf8'));
const documented: any[] = fixtures.mediaStreamsMessages.fromTwilio;
const WSS_BASE = PUBLIC_BASE_URL.replace(/^https/, 'wss');

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ env: { MEDIA_STREAMS: 'on' } });
});
afterAll(async () => {
  await gw.stop();
});

const sign = (url: string, token = TEST_AUTH_TOKEN) => ({ 'x-twilio-signature': computeTwilioSignature(token, url, {}) });
/** The <Stream url> of a TwiML answer. */
const streamUrlOf = (twiml: string) => /<Stream url="([^"]+)"/.exec(twiml)![1]!;
const newStreamSid = () => `MZ${randomBytes(16).toString('hex')}`;

/** Opens a stream socket to `path` of `target` (default: the test gateway). */
function streamSocket(path: string, headers: Record<string, string>, target: TestGateway = gw): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(target.url, path), { headers });
    ws.on('open', () => resolve(ws));
    ws.on('unexpected-response', (_q, res) => reject(Object.assign(new Error('refused'), { status: res.statusCode })));
    ws.on('error', reject);
  });
}
/** Opens the stream Twilio would open for a call's TwiML: its URL, signed. */
const openStream = (streamUrl: string, target: TestGateway = gw) => streamSocket(new URL(streamUrl).pathname, sign(streamUrl), target);
const closeCode = (ws: WebSocket) => new Promise<number>((r) => ws.on('close', (code) => r(code)));

/** The documented start frame, for this call and stream. */
function startFrame(callSid: string, streamSid = newStreamSid(), customParameters: Record<string, unknown> = documented[1].start.customParameters) {
  return { ...documented[1], streamSid, start: { ...documented[1].start, callSid, streamSid, customParameters } };
}

async function dashboard(accountId: string): Promise<TestSocket> {
  const tok = (await gw.admin('POST', `/v1/accounts/${accountId}/staff/alice/token`)).json.token;
  const dash = await openSocket(wsUrl(gw.url), { authorization: `Bearer ${tok}` });
  await dash.next((m) => m.type === 'balance');
  return dash;
}

const callHash = (g: TestGateway, accountId: string, sid: string) => g.redis.hgetall(accountKeys(g.config.redis.prefix, accountId).call(sid));
const settle = () => new Promise((r) => setTimeout(r, 200));

describe('Media Streams', () => {
  it('refuses unsigned and badly signed upgrades with 403', async () => {
    const a = await createAccount(gw);
    const url = streamUrlOf((await placeSoftphoneCall(gw, a.identity)).twiml);
    const path = new URL(url).pathname;
    const failures = async () =>
      Number(/^minutegate_twilio_signature_failures_total (\d+)$/m.exec(await (await fetch(`${gw.url}/metrics`)).text())?.[1] ?? 0);
    const before = await failures();
    await expect(streamSocket(path, {})).rejects.toMatchObject({ status: 403 });
    await expect(streamSocket(path, sign(url, 'wrong'))).rejects.toMatchObject({ status: 403 });
    // Signed over https:// instead of wss:// is not what Twilio signs.
    await expect(streamSocket(path, sign(url.replace(/^wss/, 'https')))).rejects.toMatchObject({ status: 403 });
    // The upgrade passes the same verifyTwilio as the webhooks, and is counted like them.
    expect((await failures()) - before).toBe(3);
  });

  it('gives each allowed call its own stream URL, whose token names the account and the call', async () => {
    const a = await createAccount(gw);
    const c1 = await placeSoftphoneCall(gw, a.identity);
    const c2 = await placeSoftphoneCall(gw, a.identity);
    const [u1, u2] = [streamUrlOf(c1.twiml), streamUrlOf(c2.twiml)];
    expect(u1).toMatch(/^wss:\/\/gw\.example\.test\/twilio\/media\/[A-Za-z0-9_-]+$/);
    expect(u1).not.toBe(u2);
    const key = mediaTokenKey(TEST_STAFF_SECRET);
    expect(verifyMediaToken(key, u1.split('/').pop()!)).toEqual({ accountId: a.id, callSid: c1.callSid });
  });

  it('refuses the shared URL and any token that does not verify, even when signed over it', async () => {
    const a = await createAccount(gw);
    const call = await placeSoftphoneCall(gw, a.identity);
    const token = streamUrlOf(call.twiml).split('/').pop()!;
    // The old, shared URL: a signature over it once opened streams for every call.
    await expect(streamSocket('/twilio/media', sign(`${WSS_BASE}/twilio/media`))).rejects.toMatchObject({ status: 403 });
    await expect(streamSocket('/twilio/media/', sign(`${WSS_BASE}/twilio/media/`))).rejects.toMatchObject({ status: 403 });
    const forged = [
      `${token.slice(0, -2)}${token.endsWith('AA') ? 'AB' : 'AA'}`, // MAC altered
      mintMediaToken(mediaTokenKey('some-other-secret'), a.id, call.callSid), // another key
      mintMediaToken(mediaTokenKey(TEST_STAFF_SECRET).subarray(1), a.id, call.callSid),
      Buffer.from(`${a.id} ${call.callSid}`).toString('base64url'), // no MAC at all
      'not-a-token',
    ];
    for (const t of forged) {
      const url = `${WSS_BASE}/twilio/media/${t}`;
      await expect(streamSocket(`/twilio/media/${t}`, sign(url)), t).rejects.toMatchObject({ status: 403 });
    }
    // A signature over one call's URL does not open another call's.
    const other = streamUrlOf((await placeSoftphoneCall(gw, a.identity)).twiml);
    await expect(streamSocket(new URL(other).pathname, sign(streamUrlOf(call.twiml)))).rejects.toMatchObject({ status: 403 });
  });

  it('asks for a stream in the TwiML, marks the call live on start, counts media, never debits on stop', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const dash = await dashboard(a.id);
    const call = await placeSoftphoneCall(gw, a.identity);
    expect(call.twiml).toContain('<Start><Stream url="wss://gw.example.test/twilio/media/');
    expect(call.twiml).toContain(`<Parameter name="callSid" value="${call.callSid}"/>`);
    const before = (await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json;

    const ws = await openStream(streamUrlOf(call.twiml));
    const streamSid = newStreamSid();
    const swap = (m: any) =>
      JSON.parse(JSON.stringify(m).replaceAll('CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX', call.callSid).replaceAll('MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX', streamSid));
    const [connected, start, media1, media2, dtmf, mark, stop] = documented.map(swap);
    ws.send(JSON.stringify(connected));
    ws.send(JSON.stringify(start));
    const started = await dash.next((m) => m.type === 'call' && m.event === 'started');
    expect(started).toMatchObject({ callSid: call.callSid, streamSid, customParameters: { FirstName: 'Jane', RemoteParty: 'Bob' } });
    for (let i = 0; i < 200; i++) ws.send(JSON.stringify(i % 2 ? media1 : media2));
    ws.send(JSON.stringify(dtmf));
    ws.send(JSON.stringify(mark));
    ws.send('{"event": "media", "sequenceNumber": "9", "media": {"payload": "AA=="}}'); // other key spacing
    ws.send('garbage');
    ws.send('{"no":"event"}');
    ws.send(JSON.stringify(stop));
    await expect.poll(() => gw.media.stats.mediaFrames).toBeGreaterThanOrEqual(201);
    await expect.poll(() => gw.media.stats.malformedFrames).toBeGreaterThanOrEqual(2);
    // The stream's stop changed no minutes.
    expect((await gw.admin('GET', `/v1/accounts/${a.id}/balance`)).json).toEqual(before);
    ws.close();

    // The call ends through its signals; "started" was announced once.
    await postAll(gw, answeredCallSignals(call.callSid, 61));
    await dash.next((m) => m.type === 'call' && m.event === 'ended');
    expect(dash.messages.filter((m) => m.type === 'call' && m.event === 'started')).toHaveLength(0);
    dash.close();
  });

  it("closes 1008 a stream whose start names another call than its token's, publishing nothing", async () => {
    const a = await createAccount(gw);
    const victim = await createAccount(gw);
    const victimDash = await dashboard(victim.id);
    const ownDash = await dashboard(a.id);
    const own = await placeSoftphoneCall(gw, a.identity);
    const target = await placeSoftphoneCall(gw, victim.identity);
    victimDash.messages.length = 0;
    ownDash.messages.length = 0;

    const ws = await openStream(streamUrlOf(own.twiml));
    const closed = closeCode(ws);
    ws.send(JSON.stringify(startFrame(target.callSid, newStreamSid(), { accountId: victim.id, evil: 'yes' })));
    expect(await closed).toBe(1008);
    await settle();
    expect(victimDash.messages.filter((m) => m.type === 'call')).toEqual([]);
    expect(ownDash.messages.filter((m) => m.type === 'call')).toEqual([]);
    const h = await callHash(gw, victim.id, target.callSid);
    expect(h.liveAt).toBeUndefined();
    expect(h.streamSid).toBeUndefined();
    victimDash.close();
    ownDash.close();
  });

  it('closes 1008 a stream for a call it does not know, and survives a socket closed without stop', async () => {
    const a = await createAccount(gw);
    const unknownBefore = gw.media.stats.unknownCalls;
    const sid = newCallSid();
    const token = mintMediaToken(mediaTokenKey(TEST_STAFF_SECRET), a.id, sid);
    const ws = await openStream(`${WSS_BASE}/twilio/media/${token}`);
    const closed = closeCode(ws);
    ws.send(JSON.stringify(startFrame(sid)));
    expect(await closed).toBe(1008);
    expect(gw.media.stats.unknownCalls).toBe(unknownBefore + 1);
    ws.terminate();
    await settle();
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });

  it('a token opens at most one stream at a time, on this instance and across instances', async () => {
    const a = await createAccount(gw);
    const call = await placeSoftphoneCall(gw, a.identity);
    const url = streamUrlOf(call.twiml);
    const first = await openStream(url);
    const firstSid = newStreamSid();
    first.send(JSON.stringify(startFrame(call.callSid, firstSid)));
    await vi.waitFor(async () => expect((await callHash(gw, a.id, call.callSid)).streamOpen).toBeDefined(), { timeout: 5000 });
    expect((await callHash(gw, a.id, call.callSid)).streamSid).toBe(firstSid);

    // A second socket with the same token on the same instance.
    const second = await openStream(url);
    const secondClosed = closeCode(second);
    second.send(JSON.stringify(startFrame(call.callSid)));
    expect(await secondClosed).toBe(1008);

    // …and on another instance (same Redis and prefix): its start is refused too.
    const other = await startTestGateway({ env: { MEDIA_STREAMS: 'on' }, prefix: gw.config.redis.prefix, keepKeys: true });
    try {
      const third = await openStream(url, other);
      const thirdClosed = closeCode(third);
      third.send(JSON.stringify(startFrame(call.callSid, firstSid)));
      expect(await thirdClosed).toBe(1008);
      await settle();
      // The refused ones left the open stream alone.
      const h = await callHash(gw, a.id, call.callSid);
      expect(h.streamSid).toBe(firstSid);
      expect(h.streamEndedAt).toBeUndefined();

      // Once the first stream is over, the token opens a stream again (Twilio may restart one).
      const firstClosed = closeCode(first);
      first.close();
      await firstClosed;
      await vi.waitFor(async () => expect((await callHash(gw, a.id, call.callSid)).streamOpen).toBeUndefined(), { timeout: 5000 });
      const again = await openStream(url, other);
      const againSid = newStreamSid();
      again.send(JSON.stringify(startFrame(call.callSid, againSid)));
      await vi.waitFor(async () => expect((await callHash(gw, a.id, call.callSid)).streamSid).toBe(againSid), { timeout: 5000 });
      expect(again.readyState).toBe(WebSocket.OPEN);
      again.close();
    } finally {
      await other.stop();
    }
  });

  it("however many streams a call sees one after another, its record does not grow", async () => {
    const a = await createAccount(gw);
    const call = await placeSoftphoneCall(gw, a.identity);
    const url = streamUrlOf(call.twiml);
    const sizes: number[] = [];
    for (let i = 0; i < 6; i++) {
      const ws = await openStream(url);
      const sid = newStreamSid();
      ws.send(JSON.stringify(startFrame(call.callSid, sid)));
      await vi.waitFor(async () => expect((await callHash(gw, a.id, call.callSid)).streamSid).toBe(sid), { timeout: 5000 });
      const closed = closeCode(ws);
      ws.send(JSON.stringify({ event: 'stop', sequenceNumber: '9', streamSid: sid, stop: { accountSid: 'AC0', callSid: call.callSid } }));
      ws.close();
      await closed;
      await vi.waitFor(async () => expect((await callHash(gw, a.id, call.callSid)).streamOpen).toBeUndefined(), { timeout: 5000 });
      sizes.push(Object.keys(await callHash(gw, a.id, call.callSid)).length);
    }
    expect(new Set(sizes.slice(1)).size).toBe(1);
    expect(sizes[5]).toBe(sizes[0]);
  });

  it('closes 1008 a start whose streamSid is not one, storing and publishing nothing', async () => {
    const a = await createAccount(gw);
    const dash = await dashboard(a.id);
    const call = await placeSoftphoneCall(gw, a.identity);
    const url = streamUrlOf(call.twiml);
    for (const bad of ['MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX', `MZ${'a'.repeat(31)}`, `MZ${'a'.repeat(33)}`, `MZ${'a'.repeat(10_000)}`, 'unknown', '']) {
      const ws = await openStream(url);
      const closed = closeCode(ws);
      ws.send(JSON.stringify(startFrame(call.callSid, bad)));
      expect(await closed).toBe(1008);
    }
    await settle();
    expect(dash.messages.filter((m) => m.type === 'call')).toEqual([]);
    const h = await callHash(gw, a.id, call.callSid);
    expect(Object.keys(h).filter((f) => /stream|live/i.test(f))).toEqual([]);
    dash.close();
  });

  it('bounds customParameters (at most 10, keys ≤ 64 and values ≤ 256 characters) before publishing', async () => {
    const a = await createAccount(gw);
    const dash = await dashboard(a.id);
    const call = await placeSoftphoneCall(gw, a.identity);
    const params: Record<string, unknown> = { [`k${'x'.repeat(100)}`]: 'long key', long: 'v'.repeat(10_000), nested: { a: 1 } };
    for (let i = 0; i < 500; i++) params[`p${i}`] = `value ${i}`;
    const ws = await openStream(streamUrlOf(call.twiml));
    ws.send(JSON.stringify(startFrame(call.callSid, newStreamSid(), params)));
    const started = await dash.next((m) => m.type === 'call' && m.event === 'started');
    const got = Object.entries(started.customParameters as Record<string, unknown>);
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThanOrEqual(10);
    for (const [k, v] of got) {
      expect(k.length).toBeLessThanOrEqual(64);
      expect(typeof v).toBe('string');
      expect((v as string).length).toBeLessThanOrEqual(256);
    }
    ws.close();
    dash.close();
  });

  it('accepts the wss:// form of a plain-http base (as the issue asks), and the ws:// one', async () => {
    const plain = await startTestGateway({ env: { MEDIA_STREAMS: 'on', PUBLIC_BASE_URL: 'http://gw.example.test:8080' } });
    try {
      // (The helpers sign webhooks for the https base, so the token is minted here.)
      const path = `/twilio/media/${mintMediaToken(mediaTokenKey(TEST_STAFF_SECRET), 'acct', newCallSid())}`;
      for (const signed of [`wss://gw.example.test:8080${path}`, `ws://gw.example.test:8080${path}`]) {
        const ws = await streamSocket(path, sign(signed), plain);
        const closed = closeCode(ws);
        ws.close();
        await closed;
      }
      await expect(streamSocket(path, sign(`wss://other.example${path}`), plain)).rejects.toMatchObject({ status: 403 });
    } finally {
      await plain.stop();
    }
  });

  it('with MEDIA_STREAMS=off the route answers 404 and the TwiML asks for no stream', async () => {
    const off = await startTestGateway({ env: { MEDIA_STREAMS: 'off' } });
    try {
      const a = await createAccount(off);
      const call = await placeSoftphoneCall(off, a.identity);
      expect(call.allowed).toBe(true);
      expect(call.twiml).not.toContain('<Stream');
      const token = mintMediaToken(mediaTokenKey(TEST_STAFF_SECRET), a.id, call.callSid);
      for (const path of [`/twilio/media/${token}`, '/twilio/media']) {
        await expect(streamSocket(path, sign(`${WSS_BASE}${path}`), off)).rejects.toMatchObject({ status: 404 });
        expect((await fetch(`${off.url}${path}`)).status).toBe(404);
      }
    } finally {
      await off.stop();
    }
  });
});
