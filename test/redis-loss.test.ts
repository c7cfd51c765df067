// The proof of issue #18 §3 (R19, R20): Redis lost with every key, nothing paid for is lost
// and every call Twilio completed is billed exactly once.
//
// A private redis-server WITHOUT persistence (--save "" --appendonly no), a private
// PostgreSQL and the fake Twilio REST (its paged list of calls). Two accounts are set up
// through the real API (cards, an add-on, a plan raise, an adjustment, alert settings, a
// revoked token and one issued after it, a removed staff member); calls settle and are
// archived; the archiver is stopped, so what happens next is settled but never archived
// (calls, and a purchase answered a moment before the loss); calls are left in flight
// (answered, not ended). A third account's cycle ends while Redis is away: what it settled
// before the loss belongs to the old cycle, its in-flight call ended in the new one (R16).
// Every call is in Twilio's list as Twilio would have it at the
// audit (completed, durations, legs with parent_call_sid, start and end times).
// Then redis-server is SIGKILLed and started empty on the same port while the gateway runs
// (it fails closed), a second gateway starts on the empty Redis, `npm run restore` runs as
// a child process, the in-flight calls' last
// signals reach a gateway that no longer knows them, more calls are made, and `npm run
// audit` runs as a child process over a window covering everything. The end state is
// checked against what the API showed before the loss, against Twilio's records and
// against the books; a second restore and a second audit change nothing.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { STAFF_ACCESS_CACHE_MS } from '../src/auth/staff-access.js';
import { cycleAt } from '../src/domain/cycle.js';
import { ADMIN, addCard, buy, staffToken, waitFor } from './support/billing.js';
import { answeredCallSignals, childLegEvent, dialAction, parentEvent, placeInboundCall, placeSoftphoneCall, postAll } from './support/calls.js';
import { startFakeTwilioRest, type FakeTwilioRest } from './support/fake-twilio-rest.js';
import { callSid, startTestGateway, TEST_AUTH_TOKEN, type TestGateway } from './support/gateway.js';
import { startPostgresServer, type PostgresServer } from './support/postgres-server.js';
import { queryBooks, testDatabaseName } from './support/postgres.js';
import { startRedisServer, type RedisServerHandle } from './support/redis-server.js';
import { runEntry, type EntryRun } from './support/run-main.js';
import { openSocket, wsUrl, type TestSocket } from './support/ws-client.js';

const AC = 'AC0123456789abcdef0123456789abcdef';
const prefix = `mgt-loss-${randomBytes(4).toString('hex')}`;
const DAY = 86400_000;

let redisServer: RedisServerHandle;
let pgServer: PostgresServer;
let dbUrl: string;
let twilio: FakeTwilioRest;
/** The instance that lives through the loss (its archiver stopped a moment before it). */
let gwA: TestGateway;
/** An instance started on the empty Redis, before the restore (archives what comes after). */
let gwB: TestGateway | null = null;
const testStart = Date.now();

// ---------------------------------------------------------------------------------------
// Child processes: the real entry points, with the gateway's settings.

type Run = EntryRun;
const runCommand = (entry: string, args: string[], env: Record<string, string>) =>
  runEntry(entry, args, { REDIS_URL: redisServer.url, REDIS_PREFIX: prefix, DATABASE_URL: dbUrl, ...env });

const lastJson = (out: string) => JSON.parse(out.trim().split('\n').pop()!);
const runRestore = () => runCommand('src/restore-main.ts', [], {});
const auditWindow = () => ['--from', new Date(testStart - 3600_000).toISOString(), '--to', new Date(Date.now() + 60_000).toISOString()];
const runAudit = (args: string[]) =>
  runCommand('src/audit-main.ts', [...args, '--page-size', '5'], { TWILIO_ACCOUNT_SID: AC, TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN, TWILIO_API_BASE_URL: twilio.url });

// ---------------------------------------------------------------------------------------
// Calls: driven through the real webhooks, and recorded at the fake Twilio as it would
// have them once they ended.

interface Expected {
  accountId: string;
  callSid: string;
  billedMinutes: number;
  /** in flight at the loss, settled a moment before it (never archived), after the restore, or settled and archived */
  phase: 'archived' | 'unarchived' | 'inflight' | 'after';
}
const expected: Expected[] = [];

const rfc2822 = (ms: number) => new Date(ms).toUTCString().replace('GMT', '+0000');
const minutesOf = (talk: number) => (talk <= 30 ? 0 : Math.ceil(talk / 60));

/** Twilio's record of a parent call and its one answered leg: placed `talk + 10` s ago,
 *  rang 5 s, talked `talk` s (the parent's own duration includes the ringing). */
function recordAtTwilio(parent: string, leg: string, from: string, to: string, talk: number, start = Date.now() - (talk + 10) * 1000): void {
  const end = start + 5000 + talk * 1000;
  twilio.calls.set(parent, {
    sid: parent,
    parent_call_sid: null,
    status: 'completed',
    duration: String(talk + 7),
    start_time: rfc2822(start),
    end_time: rfc2822(end + 2000),
    from,
    to,
    direction: 'inbound',
  });
  twilio.calls.set(leg, {
    sid: leg,
    parent_call_sid: parent,
    status: 'completed',
    duration: String(talk),
    start_time: rfc2822(start + 1000),
    end_time: rfc2822(end),
    from,
    to,
    direction: 'outbound-dial',
  });
}

const SOFTPHONE_TO = '+14155550100';

interface Call {
  accountId: string;
  sid: string;
  leg: string;
  talk: number;
}

/** A call placed from a softphone (`identity`) or to an account's number (`number`),
 *  allowed, and recorded at Twilio. */
async function place(gw: TestGateway, accountId: string, who: { identity: string } | { number: string }, talk: number, start?: number): Promise<Call> {
  const placed = 'identity' in who ? await placeSoftphoneCall(gw, who.identity, SOFTPHONE_TO) : await placeInboundCall(gw, who.number, '+14155550199');
  expect(placed.allowed, placed.twiml).toBe(true);
  const leg = callSid();
  const [from, to] = 'identity' in who ? [`client:${who.identity}`, SOFTPHONE_TO] : ['+14155550199', who.number];
  recordAtTwilio(placed.callSid, leg, from, to, talk, start);
  return { accountId, sid: placed.callSid, leg, talk };
}

/** A call that talks `talk` seconds and ends, every signal delivered. */
async function settledCall(gw: TestGateway, accountId: string, who: { identity: string } | { number: string }, talk: number, phase: Expected['phase']) {
  const c = await place(gw, accountId, who, talk);
  expect(await postAll(gw, answeredCallSignals(c.sid, talk, c.leg))).toEqual([200, 200, 200, 200, 200, 200]);
  expected.push({ accountId, callSid: c.sid, billedMinutes: minutesOf(talk), phase });
  return c;
}

/** A call answered (the leg in progress) and not ended when Redis is lost. */
async function callInFlight(gw: TestGateway, accountId: string, who: { identity: string } | { number: string }, talk: number, start?: number) {
  const c = await place(gw, accountId, who, talk, start);
  expect(await postAll(gw, [childLegEvent(c.sid, c.leg, 0, 'initiated'), childLegEvent(c.sid, c.leg, 1, 'ringing'), childLegEvent(c.sid, c.leg, 2, 'in-progress')])).toEqual([
    200, 200, 200,
  ]);
  expected.push({ accountId, callSid: c.sid, billedMinutes: minutesOf(talk), phase: 'inflight' });
  return c;
}

/** The in-flight call's last signals, as Twilio sends them when it ends. */
const lastSignals = (c: Call) => [childLegEvent(c.sid, c.leg, 3, 'completed', c.talk), dialAction(c.sid, c.leg, 'completed', c.talk), parentEvent(c.sid, null, 'completed', c.talk + 7)];

// ---------------------------------------------------------------------------------------
// What the API shows of an account.

const get = async (gw: TestGateway, path: string) => {
  const r = await gw.admin('GET', path);
  expect(r.status, path).toBe(200);
  return r.json;
};
const balanceOf = (gw: TestGateway, id: string) => get(gw, `/v1/accounts/${id}/balance`);

/** What a restore must bring back as it was: profile (plan, anchor, staff, numbers), the
 *  plan and add-on figures of the pool, add-ons, cards, alert settings, charges, purchases. */
async function setup(gw: TestGateway, id: string, purchaseIds: string[]) {
  const account = await get(gw, `/v1/accounts/${id}`);
  const b = account.balance;
  delete account.balance;
  return {
    account,
    plan: {
      planMinutes: b.planMinutes,
      addonMinutes: b.addonMinutes,
      monthlyMinutes: b.monthlyMinutes,
      pendingPlanMinutes: b.pendingPlanMinutes,
      pendingAddonMinutes: b.pendingAddonMinutes,
      pendingMonthlyMinutes: b.pendingMonthlyMinutes,
      cycleStart: b.cycleStart,
      cycleEnd: b.cycleEnd,
    },
    addons: await get(gw, `/v1/accounts/${id}/addons`),
    cards: await get(gw, `/v1/accounts/${id}/payment-methods`),
    alerts: await get(gw, `/v1/accounts/${id}/alerts`),
    charges: await get(gw, `/v1/accounts/${id}/charges`),
    purchases: await Promise.all(purchaseIds.map((p) => get(gw, `/v1/accounts/${id}/purchases/${p}`))),
  };
}

interface Entry {
  id: string;
  kind: string;
  minutes: number;
  balanceAfter: number;
  ref: string;
  billedMinutes?: number;
  debitedMinutes?: number;
  cycleStart?: string;
}

/** The whole ledger, page after page. */
async function ledger(gw: TestGateway, id: string): Promise<Entry[]> {
  const out: Entry[] = [];
  let cursor: string | null = null;
  do {
    const page: { entries: Entry[]; nextCursor: string | null } = await get(gw, `/v1/accounts/${id}/ledger?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
    out.push(...page.entries);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

/** Every call listed, page after page. */
async function listedCalls(gw: TestGateway, id: string): Promise<{ callSid: string; billedMinutes: number; state: string }[]> {
  const out = [];
  let cursor: string | null = null;
  do {
    const page: { calls: { callSid: string; billedMinutes: number; state: string }[]; nextCursor: string | null } = await get(
      gw,
      `/v1/accounts/${id}/calls?limit=5${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    out.push(...page.calls);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

const poolKey = (id: string) => `${prefix}:{${id}}:pool`;
/** Every ledger entry of the account is in PostgreSQL (as the archiver says). */
const archived = (gw: TestGateway, id: string) =>
  waitFor(async () => (await gw.redis.exists(poolKey(id))) === 1 && (await gw.redis.hget(poolKey(id), 'unarchived')) === null, 15_000);

// ---------------------------------------------------------------------------------------

const ACME = 'acme';
const GLOBEX = 'globex';
/** Its cycle ends while Redis is away. */
const INITECH = 'initech';
const ACCOUNTS = [ACME, GLOBEX, INITECH];
let boundary: number;

/** An anchor whose cycle boundary is `at` (a day of the month some earlier month has). */
function anchorEndingCycleAt(at: number): number {
  const d = new Date(at);
  for (let k = 1; k <= 12; k++) {
    const a = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - k, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
    if (new Date(a).getUTCDate() === d.getUTCDate() && cycleAt(a, k).start === at) return a;
  }
  throw new Error(`no anchor has a cycle starting at ${new Date(at).toISOString()}`);
}
const ACME_NUMBERS = ['+15550002001', '+15550002002'];
const GLOBEX_NUMBER = '+15550003001';
const purchasesOf: Record<string, string[]> = { [ACME]: [], [GLOBEX]: [], [INITECH]: [] };
const before: Record<string, Awaited<ReturnType<typeof setup>>> = {};
/** The balance and used minutes each account had at the moment of the loss. */
const balanceAtLoss: Record<string, number> = {};
const usedAtLoss: Record<string, number> = {};
let tokens: { revoked: string; issuedAfter: string };
let lostPurchase: string;
let inFlight: Call[] = [];
/** A dashboard watching acme on the instance that lives through the loss. */
let dashboard: TestSocket;

beforeAll(async () => {
  [redisServer, pgServer, twilio] = await Promise.all([startRedisServer(), startPostgresServer(), startFakeTwilioRest(AC, AC, TEST_AUTH_TOKEN)]);
  dbUrl = pgServer.url(testDatabaseName(prefix));
  const env = { DATABASE_URL: dbUrl, TWILIO_ACCOUNT_SID: AC, TWILIO_API_BASE_URL: twilio.url };
  gwA = await startTestGateway({ prefix, redisUrl: redisServer.url, env, keepKeys: true });
  // The audit is the command's here, never the timer's.
  await gwA.audit!.stop();

  // acme: mid-cycle (anchored ten days ago), three staff, two numbers.
  const anchor = new Date(Date.now() - 10 * DAY).toISOString();
  expect(
    (
      await gwA.admin('POST', '/v1/accounts', {
        id: ACME,
        name: 'Acme',
        monthlyMinutes: 100,
        billingAnchor: anchor,
        inboundWhenExhausted: 'reject',
        staff: [
          { id: 'alice', email: 'alice@acme.test', identity: 'acme-alice' },
          { id: 'bob', email: 'bob@acme.test', identity: 'acme-bob' },
          { id: 'carol', email: 'carol@acme.test', identity: 'acme-carol' },
        ],
        phoneNumbers: [ACME_NUMBERS[0]],
      })
    ).status,
  ).toBe(201);
  expect((await gwA.admin('POST', `/v1/accounts/${ACME}/numbers`, { phoneNumbers: [ACME_NUMBERS[1]] })).status).toBe(201);
  const card = await addCard(gwA, ADMIN, ACME);
  await addCard(gwA, ADMIN, ACME, { processorToken: 'tok_mc_test_1', brand: 'mastercard', last4: '4444' });
  purchasesOf[ACME]!.push((await buy(gwA, ADMIN, ACME, card.id, 1, 'addon')).purchaseId);
  expect((await gwA.admin('PATCH', `/v1/accounts/${ACME}/plan`, { planMinutes: 300 })).json.effect).toBe('raised');
  expect((await gwA.admin('POST', `/v1/accounts/${ACME}/adjustments`, { minutes: 5, reason: 'goodwill' })).status).toBe(201);
  expect((await gwA.admin('PUT', `/v1/accounts/${ACME}/alerts`, { thresholdsMinutes: [50, 10], email: true, webhook: false })).status).toBe(200);
  tokens = { revoked: await staffToken(gwA, ACME, 'alice'), issuedAfter: '' };
  expect((await gwA.admin('POST', `/v1/accounts/${ACME}/staff/alice/revoke-tokens`)).status).toBeLessThan(300);
  tokens.issuedAfter = await staffToken(gwA, ACME, 'alice');
  dashboard = await openSocket(wsUrl(gwA.url), { authorization: `Bearer ${tokens.issuedAfter}` });
  await dashboard.next((m) => m.type === 'balance');
  // bob talks once (settled, archived), then leaves.
  await settledCall(gwA, ACME, { identity: 'acme-bob' }, 61, 'archived');
  expect((await gwA.admin('DELETE', `/v1/accounts/${ACME}/staff/bob`)).status).toBeLessThan(300);
  await settledCall(gwA, ACME, { identity: 'acme-alice' }, 125, 'archived');
  await settledCall(gwA, ACME, { number: ACME_NUMBERS[0]! }, 61, 'archived');
  await settledCall(gwA, ACME, { identity: 'acme-carol' }, 30, 'archived');

  // globex: anchored now, one member, one number.
  expect(
    (
      await gwA.admin('POST', '/v1/accounts', {
        id: GLOBEX,
        name: 'Globex',
        monthlyMinutes: 50,
        staff: [{ id: 'alice', email: 'gil@globex.test', identity: 'globex-gil' }],
        phoneNumbers: [GLOBEX_NUMBER],
      })
    ).status,
  ).toBe(201);
  const globexCard = await addCard(gwA, ADMIN, GLOBEX);
  await settledCall(gwA, GLOBEX, { identity: 'globex-gil' }, 61, 'archived');

  // initech: its cycle ends a few seconds from now, after the archive stops and before the loss.
  boundary = Math.ceil((Date.now() + 6000) / 1000) * 1000;
  expect(
    (
      await gwA.admin('POST', '/v1/accounts', {
        id: INITECH,
        name: 'Initech',
        monthlyMinutes: 50,
        billingAnchor: new Date(anchorEndingCycleAt(boundary)).toISOString(),
        staff: [{ id: 'alice', email: 'peter@initech.test', identity: 'initech-peter' }],
        phoneNumbers: ['+15550004001'],
      })
    ).status,
  ).toBe(201);
  await settledCall(gwA, INITECH, { identity: 'initech-peter' }, 70, 'archived');

  for (const id of ACCOUNTS) await archived(gwA, id);
  expect((await queryBooks(dbUrl, 'SELECT count(*)::int AS n FROM calls')).at(0)).toEqual({ n: 6 });

  // A moment before the loss: the archive falls behind (stopped here; the loss comes
  // before it would have run again).
  await gwA.archiver.stop();
  lostPurchase = (await buy(gwA, ADMIN, GLOBEX, globexCard.id, 2, 'one_time')).purchaseId;
  purchasesOf[GLOBEX]!.push(lostPurchase);
  await settledCall(gwA, ACME, { identity: 'acme-carol' }, 150, 'unarchived');
  await settledCall(gwA, GLOBEX, { identity: 'globex-gil' }, 45, 'unarchived');
  await settledCall(gwA, INITECH, { identity: 'initech-peter' }, 100, 'unarchived');
  const started = Date.now();
  expect(started, 'the machine is too slow for initech’s cycle boundary').toBeLessThan(boundary - 1000);
  inFlight = [
    await callInFlight(gwA, ACME, { identity: 'acme-alice' }, 200),
    await callInFlight(gwA, ACME, { number: ACME_NUMBERS[1]! }, 95),
    await callInFlight(gwA, GLOBEX, { number: GLOBEX_NUMBER }, 31),
    // Talked 95 s until 3 s after the boundary (Twilio's clock: it rang 5 s before): it
    // ends in initech's new cycle.
    await callInFlight(gwA, INITECH, { number: '+15550004001' }, 95, boundary + 3000 - 100_000),
  ];

  for (const id of ACCOUNTS) {
    before[id] = await setup(gwA, id, purchasesOf[id]!);
    const b = await balanceOf(gwA, id);
    balanceAtLoss[id] = b.balance;
    usedAtLoss[id] = b.usedThisCycle;
    expect(b).toMatchObject({ activeCalls: id === ACME ? 2 : 1 });
  }
  // acme: 100 + 100 (add-on) + 200 (raise) + 5 − 2 − 3 − 2 − 0 − 3 = 395; globex: 50 − 2 + 200 − 1 = 247;
  // initech: 50 − 2 − 2.
  expect(balanceAtLoss).toEqual({ [ACME]: 395, [GLOBEX]: 247, [INITECH]: 46 });
  expect(usedAtLoss).toEqual({ [ACME]: 10, [GLOBEX]: 3, [INITECH]: 4 });
  expect(before[ACME]!.plan).toMatchObject({ planMinutes: 300, addonMinutes: 100, monthlyMinutes: 400 });
  expect((await gwA.as(tokens.revoked, 'GET', `/v1/accounts/${ACME}/balance`)).status).toBe(401);
  // Not archived: the purchase's entry and the two calls are only in Redis.
  expect(await queryBooks(dbUrl, 'SELECT 1 FROM ledger_entries WHERE ref = $1', [lostPurchase])).toEqual([]);
  expect((await queryBooks(dbUrl, 'SELECT count(*)::int AS n FROM calls')).at(0)).toEqual({ n: 6 });

  // initech's cycle ends (nothing touches its pool meanwhile but perhaps the reset scheduler).
  await new Promise((r) => setTimeout(r, Math.max(0, boundary + 500 - Date.now())));
  // The loss: redis-server SIGKILLed (no persistence: every key gone), the gateway still up.
  await redisServer.kill();
  const refused = await placeSoftphoneCall(gwA, 'acme-alice');
  expect(refused.twiml).toContain('<Reject');
  await redisServer.start();
  // Back, empty; the gateway reconnects by itself and refuses what it cannot find.
  await waitFor(async () => (await fetch(`${gwA.url}/readyz`)).status === 200, 15_000, 100);
  expect(await gwA.redis.exists(poolKey(ACME))).toBe(0);
  expect((await placeSoftphoneCall(gwA, 'acme-alice')).twiml).toContain('<Reject');
  // A second instance starts on the empty Redis (it does not restore by itself) and runs
  // through the restore: its archiver must hear of what the restore books again.
  gwB = await startTestGateway({ prefix, redisUrl: redisServer.url, env, keepKeys: true });
  await gwB.audit!.stop();
  expect(await gwB.redis.exists(poolKey(ACME))).toBe(0);
}, 120_000);

afterAll(async () => {
  dashboard?.close();
  await gwB?.stop();
  await gwA?.stop();
  await twilio?.close();
  await redisServer?.stop();
  pgServer?.destroy();
});

let restoreReport: Run;
it('npm run restore rebuilds every account (exit 0, its JSON line)', async () => {
  restoreReport = await runRestore();
  expect(restoreReport.code, restoreReport.stderr).toBe(0);
  expect(lastJson(restoreReport.stdout)).toEqual({ accounts: 3, restored: 3, skipped: 0 });
}, 60_000);

it('the in-flight calls’ last signals reach a gateway that no longer knows them: 200, nothing changes', async () => {
  const balances = await Promise.all(ACCOUNTS.map((id) => balanceOf(gwA, id)));
  for (const c of inFlight) expect(await postAll(gwA, lastSignals(c))).toEqual([200, 200, 200]);
  expect(await Promise.all(ACCOUNTS.map((id) => balanceOf(gwA, id)))).toEqual(balances);
  for (const c of inFlight) expect((await listedCalls(gwA, c.accountId)).map((l) => l.callSid)).not.toContain(c.sid);
  // Nothing held, nothing active: those calls were not restored.
  for (const b of balances) expect(b).toMatchObject({ reserved: 0, activeCalls: 0 });
});

it('calls after the restore meter as usual, on either instance', async () => {
  const acme = (await balanceOf(gwB!, ACME)).balance;
  await settledCall(gwB!, ACME, { identity: 'acme-alice' }, 61, 'after');
  await settledCall(gwA, ACME, { number: ACME_NUMBERS[0]! }, 240, 'after');
  await settledCall(gwB!, GLOBEX, { identity: 'globex-gil' }, 90, 'after');
  await settledCall(gwA, INITECH, { identity: 'initech-peter' }, 65, 'after');
  const now = await balanceOf(gwA, ACME);
  expect(now.balance).toBe(acme - 2 - 4);
  // The dashboard that watched through the loss sees it (versions go on growing: a
  // snapshot older than one it saw would be dropped, by the gateway and by the client).
  await dashboard.next((m) => m.type === 'balance' && m.balance === now.balance && m.version === now.version, 5000);
});

let auditReport: Run;
it('npm run audit over the whole window settles what the loss took: in flight, and settled but not archived', async () => {
  auditReport = await runAudit(auditWindow());
  expect(auditReport.code, auditReport.stderr).toBe(0);
  const r = lastJson(auditReport.stdout);
  const count = (phases: Expected['phase'][]) => expected.filter((e) => phases.includes(e.phase)).length;
  expect(r).toMatchObject({
    twilioCalls: expected.length,
    matched: count(['archived', 'after']),
    settled: count(['inflight', 'unarchived']),
    mismatched: 0,
    unmapped: 0,
  });
}, 60_000);

it('every account is as it was: plan, add-ons, anchor, staff, numbers, cards, alert settings, charges, purchases', async () => {
  for (const id of [ACME, GLOBEX]) expect(await setup(gwB!, id, purchasesOf[id]!)).toEqual(before[id]);
  // initech is in its next cycle now: the same but for the cycle (and its bill's dates).
  const { plan: p, charges: c, ...initech } = await setup(gwB!, INITECH, []);
  const { plan: q, charges: d, ...initechBefore } = before[INITECH]!;
  expect(initech).toEqual(initechBefore);
  expect(p).toEqual({ ...q, cycleStart: new Date(boundary).toISOString(), cycleEnd: expect.any(String) });
  expect(c).toMatchObject({ cycleStart: new Date(boundary).toISOString(), lines: d.lines });
  // The purchase answered a moment before the loss is there once.
  const entries = await ledger(gwA, GLOBEX);
  expect(entries.filter((e) => e.ref === lostPurchase)).toEqual([expect.objectContaining({ kind: 'purchase', minutes: 200 })]);
  expect((await get(gwA, `/v1/accounts/${GLOBEX}/purchases/${lostPurchase}`)).purchaseId).toBe(lostPurchase);
});

it('tokens and staff: the revoked token is refused, one issued before the loss works, the removed member cannot call', async () => {
  // An instance reads generations through a cache of STAFF_ACCESS_CACHE_MS: gwA, up through
  // the loss, may hold the empty Redis's answer (no generation) that long after the restore
  // wrote it back — as for any revocation made on another instance.
  await expect.poll(async () => (await gwA.as(tokens.revoked, 'GET', `/v1/accounts/${ACME}/balance`)).status, { timeout: STAFF_ACCESS_CACHE_MS + 2_000 }).toBe(401);
  expect((await gwB!.as(tokens.revoked, 'GET', `/v1/accounts/${ACME}/balance`)).status).toBe(401);
  expect((await gwA.as(tokens.issuedAfter, 'GET', `/v1/accounts/${ACME}/balance`)).status).toBe(200);
  const bob = await placeSoftphoneCall(gwB!, 'acme-bob');
  expect(bob.allowed).toBe(false);
  expect(bob.twiml).toContain('<Reject');
});

let finalState: Record<string, { balance: unknown; ledger: Entry[] }> = {};
it('every call Twilio completed is debited once with the minutes its record implies and listed; nothing held; each ledger replays; the books hold each entry once', async () => {
  // Everything the audit and the calls after the restore booked reaches the archive.
  for (const id of ACCOUNTS) await archived(gwB!, id);
  for (const id of ACCOUNTS) {
    const mine = expected.filter((e) => e.accountId === id);
    const sinceLoss = mine.filter((e) => e.phase === 'inflight' || e.phase === 'after').reduce((s, e) => s + e.billedMinutes, 0);
    const b = await balanceOf(gwA, id);
    if (id === INITECH) {
      // A new cycle: the allowance, less what ended in it (the in-flight call and the one after).
      expect(b).toMatchObject({ balance: 50 - sinceLoss, usedThisCycle: sinceLoss, reserved: 0, activeCalls: 0, cycleStart: new Date(boundary).toISOString() });
    } else {
      expect(b, id).toMatchObject({ balance: balanceAtLoss[id]! - sinceLoss, usedThisCycle: usedAtLoss[id]! + sinceLoss, reserved: 0, activeCalls: 0 });
    }

    const entries = await ledger(gwA, id);
    expect(entries.reduce((s, e) => s + e.minutes, 0), `${id}: the ledger's minutes add up to the balance`).toBe(b.balance);
    expect(entries.at(-1)!.balanceAfter).toBe(b.balance);
    const debits = entries.filter((e) => e.kind === 'call_debit');
    expect(debits.map((d) => d.ref).sort(), `${id}: one debit per call`).toEqual(mine.map((e) => e.callSid).sort());
    for (const e of mine) {
      expect(debits.find((d) => d.ref === e.callSid)!.billedMinutes, `${id} ${e.phase} ${e.callSid}`).toBe(e.billedMinutes);
    }
    const listed = await listedCalls(gwA, id);
    expect(listed.map((c) => c.callSid).sort()).toEqual(mine.map((e) => e.callSid).sort());
    for (const e of mine) expect(listed.find((c) => c.callSid === e.callSid), e.callSid).toMatchObject({ billedMinutes: e.billedMinutes, state: 'ended' });

    // The books: every entry once, every call once.
    const rows = await queryBooks<{ entry_id: string }>(dbUrl, 'SELECT entry_id FROM ledger_entries WHERE account_id = $1 ORDER BY entry_id', [id]);
    expect(rows.map((r) => r.entry_id).sort()).toEqual(entries.map((e) => e.id).sort());
    const calls = await queryBooks<{ call_sid: string; billed_minutes: number }>(dbUrl, 'SELECT call_sid, billed_minutes FROM calls WHERE account_id = $1', [id]);
    expect(calls.map((c) => c.call_sid).sort()).toEqual(mine.map((e) => e.callSid).sort());
    if (id === INITECH) {
      // R16: the call settled before the boundary (and lost with Redis) belongs to the old
      // cycle — paid from what that cycle had left at its reset; the new cycle is untouched.
      const old = mine.find((e) => e.phase === 'unarchived')!;
      expect(debits.find((d) => d.ref === old.callSid)).toMatchObject({ minutes: 0, debitedMinutes: old.billedMinutes, cycleStart: new Date(cycleAt(anchorEndingCycleAt(boundary), 0).start).toISOString() });
      const late = mine.find((e) => e.phase === 'inflight')!;
      expect(debits.find((d) => d.ref === late.callSid)).toMatchObject({ minutes: -late.billedMinutes, cycleStart: new Date(boundary).toISOString() });
    }
    finalState[id] = { balance: b, ledger: entries };
  }
}, 60_000);

it('a second restore and a second audit change nothing', async () => {
  const again = await runRestore();
  expect(again.code, again.stderr).toBe(0);
  expect(lastJson(again.stdout)).toEqual({ accounts: 3, restored: 0, skipped: 3 });
  const audit = await runAudit(auditWindow());
  expect(audit.code, audit.stderr).toBe(0);
  expect(lastJson(audit.stdout)).toMatchObject({ twilioCalls: expected.length, matched: expected.length, settled: 0, mismatched: 0, unmapped: 0 });
  for (const id of ACCOUNTS) {
    expect({ balance: await balanceOf(gwA, id), ledger: await ledger(gwA, id) }).toEqual(finalState[id]);
  }
}, 60_000);
