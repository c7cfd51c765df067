// Issue #17 §4: Redis keeps live state only — an archived ledger entry leaves it
// LEDGER_REDIS_WINDOW_SECONDS after it was written, an archived call's record (and its
// CallSid look-up) CALL_REDIS_RETENTION_SECONDS after it settled; nothing unarchived is
// ever trimmed; the history still answers whole, from PostgreSQL.
import { afterEach, expect, it } from 'vitest';
import { waitFor } from './support/billing.js';
import { answeredCallSignals, childLegEvent, placeSoftphoneCall, postAll } from './support/calls.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';

const running: TestGateway[] = [];
afterEach(async () => {
  for (const gw of running.splice(0).reverse()) await gw.stop();
});

async function gateway(env: Record<string, string>): Promise<TestGateway> {
  const gw = await startTestGateway({ env });
  running.push(gw);
  expect(
    (await gw.admin('POST', '/v1/accounts', { id: 'acme', name: 'Acme', monthlyMinutes: 100, staff: [{ id: 'alice', email: 'a@acme.test', identity: 'trim-alice' }] })).status,
  ).toBe(201);
  return gw;
}

async function settledCall(gw: TestGateway, seconds: number): Promise<string> {
  const placed = await placeSoftphoneCall(gw, 'trim-alice');
  expect(placed.allowed).toBe(true);
  expect((await postAll(gw, answeredCallSignals(placed.callSid, seconds))).every((s) => s === 200)).toBe(true);
  return placed.callSid;
}

const keysOf = (gw: TestGateway) => {
  const p = gw.config.redis.prefix;
  return { ledger: `${p}:{acme}:ledger`, ended: `${p}:{acme}:calls:ended`, call: (sid: string) => `${p}:{acme}:call:${sid}`, dir: (sid: string) => `${p}:dir:call:${sid}` };
};

it('trims archived entries and calls past their windows; the API still answers the whole history', async () => {
  const gw = await gateway({ LEDGER_REDIS_WINDOW_SECONDS: '1', CALL_REDIS_RETENTION_SECONDS: '2' });
  const k = keysOf(gw);
  const sids = [await settledCall(gw, 61), await settledCall(gw, 20), await settledCall(gw, 125)];
  const before = (await gw.admin('GET', '/v1/accounts/acme/ledger?limit=100')).json.entries;
  expect(before).toHaveLength(4);

  // Archived at once; gone from the stream once older than the window, and the calls leave
  // the ended set when archived, their hashes and look-ups when their retention ends.
  await waitFor(async () => ((await gw.redis.xlen(k.ledger)) === 0 ? true : null), 8000, 100);
  expect(await gw.redis.zcard(k.ended)).toBe(0);
  await waitFor(async () => ((await gw.redis.exists(...sids.map(k.call), ...sids.map(k.dir))) === 0 ? true : null), 8000, 100);

  const after = (await gw.admin('GET', '/v1/accounts/acme/ledger?limit=100')).json.entries;
  expect(after).toEqual(before);
  const balance = (await gw.admin('GET', '/v1/accounts/acme/balance')).json.balance;
  expect(after.reduce((s: number, e: { minutes: number }) => s + e.minutes, 0)).toBe(balance);
  const calls = (await gw.admin('GET', '/v1/accounts/acme/calls?state=ended')).json.calls.map((c: { callSid: string }) => c.callSid);
  expect([...calls].sort()).toEqual([...sids].sort());
  const one = await gw.admin('GET', `/v1/accounts/acme/calls/${sids[2]}`);
  expect(one.status).toBe(200);
  expect(one.json).toMatchObject({ callSid: sids[2], billedMinutes: 3, state: 'ended' });

  // A late signal about a trimmed call: 200, and nothing changes.
  const late = await gw.twilio('/twilio/status', childLegEvent(sids[0]!, 'CA' + 'f'.repeat(32), 9, 'completed', 600));
  expect(late.status).toBe(200);
  expect((await gw.admin('GET', '/v1/accounts/acme/balance')).json.balance).toBe(balance);
  expect((await gw.admin('GET', '/v1/accounts/acme/ledger?limit=100')).json.entries).toHaveLength(4);

  // A new entry after a quiet spell is archived and trimmed in its turn.
  await settledCall(gw, 90);
  await waitFor(async () => ((await gw.admin('GET', '/v1/accounts/acme/ledger?limit=100')).json.entries.length === 5 ? true : null), 8000, 100);
  await waitFor(async () => ((await gw.redis.xlen(k.ledger)) === 0 ? true : null), 8000, 100);
});

it('never trims what is not archived, however old', async () => {
  const gw = await gateway({ LEDGER_REDIS_WINDOW_SECONDS: '0', CALL_REDIS_RETENTION_SECONDS: '0' });
  const k = keysOf(gw);
  await waitFor(async () => ((await gw.redis.xlen(k.ledger)) === 0 ? true : null), 8000, 100); // the opening entry, archived
  await gw.archiver.stop(); // the archive stalls (PostgreSQL slow, every instance busy)
  const sid = await settledCall(gw, 61);
  await new Promise((r) => setTimeout(r, 1500));
  expect(await gw.redis.xlen(k.ledger)).toBe(1);
  expect(await gw.redis.zscore(k.ended, sid)).not.toBeNull();
  expect(await gw.redis.pttl(k.call(sid))).toBe(-1); // no expiry before the books have it
  expect((await gw.admin('GET', `/v1/accounts/acme/calls/${sid}`)).status).toBe(200);
});
