// Rotating STAFF_TOKEN_SECRET (issue #21) as an operator does it, on real sockets, with
// three instances on one Redis: one still on the old secret, one rotating (new secret,
// STAFF_TOKEN_PREVIOUS_SECRETS naming the old one), one with the old secret dropped. Staff
// tokens (REST and /v1/ws) and Media Streams URLs (whose key derives from the same secret)
// signed with the old secret keep working while it is listed, anything new is signed with
// the new one, and dropping the old secret refuses what it signed.
import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyStaffToken } from '../src/auth/staff-token.js';
import { loadConfig } from '../src/config.js';
import { mediaTokenKey, verifyMediaToken } from '../src/twilio/media-token.js';
import { computeTwilioSignature } from '../src/twilio/signature.js';
import { placeSoftphoneCall } from './support/calls.js';
import { createAccount, startTestGateway, TEST_AUTH_TOKEN, uniquePrefix, type TestGateway } from './support/gateway.js';
import { openSocket, wsUrl } from './support/ws-client.js';

const OLD = 'old-staff-secret-0123456789-0123456789';
const NEW = 'new-staff-secret-9876543210-9876543210';
const UNRELATED = 'unrelated-secret-aaaaaaaaaaaaaaaaaaaaaa';
const prefix = uniquePrefix('rot');

let old: TestGateway; // STAFF_TOKEN_SECRET=OLD (before the rotation)
let rotating: TestGateway; // NEW, previous: UNRELATED,OLD
let dropped: TestGateway; // NEW alone (the old secret dropped)
beforeAll(async () => {
  // One Redis prefix and database: the last one owns them and removes them on stop.
  const common = { prefix, env: { MEDIA_STREAMS: 'on' } };
  old = await startTestGateway({ ...common, keepKeys: true, env: { ...common.env, STAFF_TOKEN_SECRET: OLD } });
  rotating = await startTestGateway({
    ...common,
    keepKeys: true,
    env: { ...common.env, STAFF_TOKEN_SECRET: NEW, STAFF_TOKEN_PREVIOUS_SECRETS: ` ${UNRELATED} , ${OLD} ` },
  });
  dropped = await startTestGateway({ ...common, env: { ...common.env, STAFF_TOKEN_SECRET: NEW } });
});
afterAll(async () => {
  await old?.stop();
  await rotating?.stop();
  await dropped?.stop();
});

const mint = async (gw: TestGateway, accountId: string) => {
  const r = await gw.admin('POST', `/v1/accounts/${accountId}/staff/alice/token`);
  expect(r.status).toBe(201);
  return r.json.token as string;
};
const balanceStatus = async (gw: TestGateway, token: string, accountId: string) => (await gw.as(token, 'GET', `/v1/accounts/${accountId}/balance`)).status;
/** The upgrade's status: 101 when the socket opened, else the refusal's. */
const socketStatus = async (gw: TestGateway, token: string) => {
  try {
    const s = await openSocket(wsUrl(gw.url), { authorization: `Bearer ${token}` });
    s.close();
    return 101;
  } catch (err) {
    return (err as { status?: number }).status;
  }
};
const streamUrlOf = (twiml: string) => /<Stream url="([^"]+)"/.exec(twiml)![1]!;
/** Opens the stream Twilio would open for a <Stream url>, signed as Twilio signs it. */
const streamStatus = (gw: TestGateway, streamUrl: string) =>
  new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(wsUrl(gw.url, new URL(streamUrl).pathname), {
      headers: { 'x-twilio-signature': computeTwilioSignature(TEST_AUTH_TOKEN, streamUrl, {}) },
    });
    ws.on('upgrade', () => {
      resolve(101);
      ws.terminate();
    });
    ws.on('unexpected-response', (_q, res) => resolve(res.statusCode!));
    ws.on('error', (err) => (err.message.includes('terminated') ? undefined : reject(err)));
  });

it('staff tokens of the old secret verify while it is listed, new ones are signed with the current secret, and dropping it refuses them', async () => {
  const a = await createAccount(old);
  const oldToken = await mint(old, a.id);
  expect(await balanceStatus(old, oldToken, a.id)).toBe(200);

  // Rotating: the old token still works, over REST and on the socket.
  expect(await balanceStatus(rotating, oldToken, a.id)).toBe(200);
  expect(await socketStatus(rotating, oldToken)).toBe(101);
  // What the rotating instance signs is signed with the new secret only.
  const newToken = await mint(rotating, a.id);
  expect(verifyStaffToken(NEW, newToken, Date.now())).toMatchObject({ accountId: a.id, staffId: 'alice' });
  expect(verifyStaffToken(OLD, newToken, Date.now())).toBeNull();
  expect(await balanceStatus(old, newToken, a.id)).toBe(401);
  expect(await balanceStatus(rotating, newToken, a.id)).toBe(200);

  // The old secret dropped: its tokens are refused, the new ones work.
  expect(await balanceStatus(dropped, oldToken, a.id)).toBe(401);
  expect(await socketStatus(dropped, oldToken)).toBe(401);
  expect(await balanceStatus(dropped, newToken, a.id)).toBe(200);
  expect(await socketStatus(dropped, newToken)).toBe(101);
});

it('Media Streams URLs rotate with the same secret: old ones open while it is listed, new ones carry the new key', async () => {
  const a = await createAccount(old);
  const before = await placeSoftphoneCall(old, a.identity);
  const oldUrl = streamUrlOf(before.twiml);
  expect(verifyMediaToken(mediaTokenKey(OLD), oldUrl.split('/').pop()!)).toMatchObject({ callSid: before.callSid });

  // A call answered before the rotation streams to an instance that has rotated.
  expect(await streamStatus(rotating, oldUrl)).toBe(101);
  // A call answered by the rotating instance gets a URL under the new key.
  const during = await placeSoftphoneCall(rotating, a.identity);
  const newUrl = streamUrlOf(during.twiml);
  const token = newUrl.split('/').pop()!;
  expect(verifyMediaToken(mediaTokenKey(NEW), token)).toMatchObject({ callSid: during.callSid });
  expect(verifyMediaToken(mediaTokenKey(OLD), token)).toBeNull();
  expect(await streamStatus(old, newUrl)).toBe(403);

  // Dropped: the old key's URLs are refused, the new ones open.
  expect(await streamStatus(dropped, oldUrl)).toBe(403);
  expect(await streamStatus(dropped, newUrl)).toBe(101);
});

it('STAFF_TOKEN_PREVIOUS_SECRETS: trimmed, each once, never the current one; an empty entry is refused by name', () => {
  const c = loadConfig({ STAFF_TOKEN_SECRET: NEW, STAFF_TOKEN_PREVIOUS_SECRETS: `${OLD}, ${UNRELATED} ,${OLD},${NEW}` });
  expect(c.staffTokenPreviousSecrets).toEqual([OLD, UNRELATED]);
  expect(c.warnings).toContain('STAFF_TOKEN_PREVIOUS_SECRETS lists the current STAFF_TOKEN_SECRET');
  expect(loadConfig({ STAFF_TOKEN_SECRET: NEW }).staffTokenPreviousSecrets).toEqual([]);
  for (const bad of [`${OLD},,${UNRELATED}`, `${OLD},`, ',']) {
    expect(() => loadConfig({ STAFF_TOKEN_SECRET: NEW, STAFF_TOKEN_PREVIOUS_SECRETS: bad }), bad).toThrow(
      /STAFF_TOKEN_PREVIOUS_SECRETS: must be comma-separated secrets, none of them empty/,
    );
  }
});
