// Issue #22: a call's own callbacks (its <Dial action> and its dialled legs'
// statusCallback) come back on a URL that names the account in its signed query, so they
// are recorded without the CallSid → account map; the TwiML App's configured Status
// Callback (no query) and calls placed before the change still go through the map.
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountKeys, directoryKeys } from '../src/redis/keys.js';
import { statusCallbackUrl } from '../src/twilio/callback-url.js';
import { answeredCallSignals, childLegEvent, dialAction, parentEvent, placeSoftphoneCall } from './support/calls.js';
import { callSid, createAccount, PUBLIC_BASE_URL, startTestGateway, TEST_AUTH_TOKEN, type TestGateway } from './support/gateway.js';

let gw: TestGateway;
/** A second instance on the same Redis and books: it placed none of the calls, so it has
 *  no CallSid in its memory and must find each call's account some other way. */
let other: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
  other = await startTestGateway({ redis: gw.redis, prefix: gw.config.redis.prefix });
});
afterAll(async () => {
  await other?.stop();
  await gw?.stop();
});

const unescapeXml = (s: string) =>
  s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!);

/** The <Dial action> and the first noun's statusCallback, as Twilio reads them (unescaped). */
function callbackUrls(twiml: string): { action: string; statusCallback: string } {
  const action = /<Dial\b[^>]*\baction="([^"]+)"/.exec(twiml)?.[1];
  const statusCallback = /<(?:Number|Client)\b[^>]*\bstatusCallback="([^"]+)"/.exec(twiml)?.[1];
  if (!action || !statusCallback) throw new Error(`no <Dial> in ${twiml}`);
  return { action: unescapeXml(action), statusCallback: unescapeXml(statusCallback) };
}

/** POSTs to an absolute public URL as Twilio does: signed by twilio-node's own
 *  getExpectedTwilioSignature over that URL exactly, sent to `to`'s address. */
async function postTo(to: TestGateway, url: string, params: Record<string, string>, signedUrl = url) {
  expect(url.startsWith(`${PUBLIC_BASE_URL}/`)).toBe(true);
  const signature = twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, signedUrl, params);
  const res = await fetch(to.url + url.slice(PUBLIC_BASE_URL.length), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, text: await res.text() };
}

/** Sends an answered call's signals where Twilio sends them: the dialled leg's to the
 *  noun's statusCallback, the <Dial action> to the action URL, and (`parentUrl`) the
 *  parent's own completion to the TwiML App's Status Callback. */
async function playAnswered(to: TestGateway, twiml: string, parent: string, seconds: number, parentUrl: string | null) {
  const urls = callbackUrls(twiml);
  const statuses: number[] = [];
  for (const s of answeredCallSignals(parent, seconds) as Record<string, string>[]) {
    const url = s.DialCallStatus !== undefined ? urls.action : s.ParentCallSid ? urls.statusCallback : parentUrl;
    if (url) statuses.push((await postTo(to, url, s)).status);
  }
  return statuses;
}

const balance = async (id: string) => (await gw.admin('GET', `/v1/accounts/${id}/balance`)).json;
const callMap = (sid: string) => directoryKeys(gw.config.redis.prefix).call(sid);

describe('the callback URLs of a placed call', () => {
  it('name the account in the query, percent-encoded in the URL and XML-escaped in the TwiML', async () => {
    expect(statusCallbackUrl('https://gw.example.test', 'acme@eu:1')).toBe('https://gw.example.test/twilio/status?a=acme%40eu%3A1');
    // An id with a character a URL must escape ("@"; ":" is not allowed in identities).
    const id = `cb@${callSid().slice(2, 10)}`;
    const a = { id, identity: `${id}_alice` };
    const created = await gw.admin('POST', '/v1/accounts', {
      id, name: 'At sign', monthlyMinutes: 100, staff: [{ id: 'alice', email: 'alice@cb.example', identity: a.identity }],
    });
    expect(created.status).toBe(201);
    const call = await placeSoftphoneCall(gw, a.identity);
    expect(call.allowed).toBe(true);
    const expected = `${PUBLIC_BASE_URL}/twilio/status?a=${encodeURIComponent(a.id)}`;
    expect(expected).toContain('%40');
    expect(callbackUrls(call.twiml)).toEqual({ action: expected, statusCallback: expected });
    expect(call.twiml).toContain(`<Dial action="${expected}" method="POST"`);
    // Signed over that URL as Twilio requests it, every callback is accepted and the call settles.
    const statuses = await playAnswered(gw, call.twiml, call.callSid, 61, `${PUBLIC_BASE_URL}/twilio/status`);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    expect(await balance(a.id)).toMatchObject({ balance: 98, reserved: 0, activeCalls: 0 });
  });
});

describe('a callback whose URL names the account', () => {
  it('is recorded without the CallSid map: with the map gone, on an instance that never saw the call, it still settles', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const call = await placeSoftphoneCall(gw, a.identity);
    expect(await gw.redis.del(callMap(call.callSid))).toBe(1);
    const callHash = () => gw.redis.hgetall(accountKeys(gw.config.redis.prefix, a.id).call(call.callSid));
    const placed = await callHash();
    // Without the query and without the map, the other instance cannot find the call...
    const lost = await postTo(other, `${PUBLIC_BASE_URL}/twilio/status`, childLegEvent(call.callSid, callSid(), 0, 'initiated'));
    expect(lost.status).toBe(200);
    expect(await callHash()).toEqual(placed);
    // ...with it, every callback of the call is recorded, and the <Dial action> settles it.
    const statuses = await playAnswered(other, call.twiml, call.callSid, 61, null);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(await balance(a.id)).toMatchObject({ balance: 8, reserved: 0, activeCalls: 0, usedThisCycle: 2 });
    expect((await callHash()).legsKnown).toBe('1');
    expect(await gw.redis.exists(callMap(call.callSid))).toBe(0);
  });

  it('does not touch another account: a call it does not have is unknown there, and the call is left as it was', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const b = await createAccount(gw, { monthlyMinutes: 10 });
    const call = await placeSoftphoneCall(gw, a.identity);
    const kb = accountKeys(gw.config.redis.prefix, b.id);
    // The pool's state (the archiver moves its own marks meanwhile, on its own time).
    const pool = async () => {
      const { archivedTo: _t, unarchived: _u, ...state } = await gw.redis.hgetall(kb.pool);
      return state;
    };
    const poolBefore = await pool();
    const ledgerBefore = await gw.redis.xlen(kb.ledger);
    // Correctly signed (only our TwiML could name b for a's call, but be safe).
    const wrong = statusCallbackUrl(PUBLIC_BASE_URL, b.id);
    const child = callSid();
    for (const s of [childLegEvent(call.callSid, child, 2, 'in-progress'), dialAction(call.callSid, child, 'completed', 600)]) {
      const r = await postTo(other, wrong, s);
      expect(r.status).toBe(200);
      expect(r.text).toContain('<Response/>');
    }
    expect(await pool()).toEqual(poolBefore);
    expect(await gw.redis.xlen(kb.ledger)).toBe(ledgerBefore);
    expect(await gw.redis.exists(kb.call(call.callSid))).toBe(0);
    expect(await balance(a.id)).toMatchObject({ balance: 10, reserved: 1, activeCalls: 1 });
    // An account that does not exist: acknowledged, nothing recorded.
    expect((await postTo(other, statusCallbackUrl(PUBLIC_BASE_URL, 'no-such-account'), dialAction(call.callSid, child, 'completed', 600))).status).toBe(200);
    expect(await balance(a.id)).toMatchObject({ balance: 10, reserved: 1, activeCalls: 1 });
    // The call's own URL still settles it.
    expect((await postTo(other, callbackUrls(call.twiml).action, dialAction(call.callSid, child, 'completed', 61))).status).toBe(200);
    expect(await balance(a.id)).toMatchObject({ balance: 8, reserved: 0, activeCalls: 0 });
  });

  it('refuses an altered query (403) and a malformed account (400), changing nothing', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const b = await createAccount(gw, { monthlyMinutes: 10 });
    const call = await placeSoftphoneCall(gw, a.identity);
    const own = callbackUrls(call.twiml).action;
    const action = dialAction(call.callSid, callSid(), 'completed', 61);
    // Signed for a's URL, sent to b's: the signature covers the query.
    expect((await postTo(gw, statusCallbackUrl(PUBLIC_BASE_URL, b.id), action, own)).status).toBe(403);
    expect((await postTo(gw, `${own}&a=${b.id}`, action, own)).status).toBe(403);
    // Signed, but no account id (it would go into key names and a hash tag).
    const bad = await postTo(gw, `${PUBLIC_BASE_URL}/twilio/status?a=${encodeURIComponent(`${a.id}}{x`)}`, action);
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('VALIDATION_FAILED');
    expect((await postTo(gw, `${PUBLIC_BASE_URL}/twilio/status?a=`, action)).status).toBe(400);
    for (const id of [a.id, b.id]) expect(await balance(id)).toMatchObject({ balance: 10, usedThisCycle: 0 });
  });

  it('keeps the query and the form apart: a body field cannot name the account, nor a query field pose as Twilio\'s', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const b = await createAccount(gw, { monthlyMinutes: 10 });
    const call = await placeSoftphoneCall(gw, a.identity);
    await gw.redis.del(callMap(call.callSid));
    // A form field "a" on the TwiML App's URL is just a field: the call is looked up (and,
    // its map gone, not found), b is not consulted.
    const child = callSid();
    const viaBody = await postTo(other, `${PUBLIC_BASE_URL}/twilio/status`, { ...dialAction(call.callSid, child, 'completed', 61), a: b.id });
    expect(viaBody.status).toBe(200);
    expect(await balance(a.id)).toMatchObject({ balance: 10, reserved: 1 });
    expect(await balance(b.id)).toMatchObject({ balance: 10, reserved: 0 });
    // A query field named like Twilio's is not one of Twilio's: this stays a leg's
    // "initiated" callback, not a <Dial action>.
    const own = callbackUrls(call.twiml).action;
    const r = await postTo(other, `${own}&DialCallStatus=completed&DialCallDuration=61`, childLegEvent(call.callSid, child, 0, 'initiated'));
    expect(r.status).toBe(200);
    expect(await balance(a.id)).toMatchObject({ balance: 10, reserved: 1, activeCalls: 1 });
    expect(await gw.redis.hget(accountKeys(gw.config.redis.prefix, a.id).call(call.callSid), 'legsKnown')).toBe('1');
  });
});

describe('a callback without the account in its URL', () => {
  it('(the TwiML App\'s Status Callback, or a call placed before the change) is found through the CallSid map', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const call = await placeSoftphoneCall(gw, a.identity);
    // All of a call's signals at the bare URL, as TwiML written before issue #22 named it,
    // on the instance that did not place the call (the map in Redis, not its memory).
    const bare = `${PUBLIC_BASE_URL}/twilio/status`;
    for (const s of answeredCallSignals(call.callSid, 61)) expect((await postTo(other, bare, s)).status).toBe(200);
    expect(await balance(a.id)).toMatchObject({ balance: 8, reserved: 0, activeCalls: 0 });
  });

  it('finds the map written with the call\'s decision, allowed or refused, for 14 days', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const broke = await createAccount(gw, { monthlyMinutes: 0 });
    const allowed = await placeSoftphoneCall(gw, a.identity);
    const refused = await placeSoftphoneCall(gw, broke.identity);
    expect([allowed.allowed, refused.allowed]).toEqual([true, false]);
    const dir = directoryKeys(gw.config.redis.prefix);
    for (const [call, account] of [[allowed, a], [refused, broke]] as const) {
      expect(await gw.redis.get(dir.call(call.callSid))).toBe(account.id);
      const ttl = await gw.redis.ttl(dir.call(call.callSid));
      expect(ttl).toBeGreaterThan(14 * 86_400 - 60);
      expect(ttl).toBeLessThanOrEqual(14 * 86_400);
    }
  });

  it('settles a call whose parent completion is the last word, through the map', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const call = await placeSoftphoneCall(gw, a.identity);
    const urls = callbackUrls(call.twiml);
    const child = callSid();
    await postTo(other, `${PUBLIC_BASE_URL}/twilio/status`, parentEvent(call.callSid, null, 'completed', 130));
    expect(await balance(a.id)).toMatchObject({ reserved: 1, activeCalls: 1 });
    expect((await postTo(other, urls.statusCallback, childLegEvent(call.callSid, child, 3, 'completed', 125))).status).toBe(200);
    expect(await balance(a.id)).toMatchObject({ balance: 7, reserved: 0, activeCalls: 0 });
  });
});
