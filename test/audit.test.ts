// R20, issue #18 §2: the audit lists Twilio's calls that started in a window (paged, by
// day, then precisely by start_time) and, for each completed call, finds it matched,
// settles it exactly once when the gateway never did (signals lost, or its record lost with
// Redis), or reports a mismatch without changing it; unmapped calls are counted, incomplete
// records left alone. Real Redis, real PostgreSQL, the fake Twilio REST at the boundary.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cycleContaining } from '../src/domain/cycle.js';
import { callSid, createAccount, startTestGateway, TEST_AUTH_TOKEN, type TestClock, type TestGateway } from './support/gateway.js';
import { answeredCallSignals, childLegEvent, parentEvent, placeInboundCall, placeSoftphoneCall, postAll } from './support/calls.js';
import { startFakeTwilioRest, type FakeCall, type FakeTwilioRest } from './support/fake-twilio-rest.js';
import { queryBooks } from './support/postgres.js';
import { TEST_REDIS_URL } from './support/redis-url.js';
import { runEntry } from './support/run-main.js';

const AC = 'AC0123456789abcdef0123456789abcdef';
// Far from today: each test's calls get a day of their own, so windows never overlap.
const clock: TestClock = { now: Date.UTC(2035, 2, 10, 12, 0, 0) };
const DAY = 86400_000;
let day = 0;
/** A fresh day (noon) for a test, and the clock moved to its end. */
function freshDay(): number {
  day += 1;
  const noon = Date.UTC(2035, 2, 10 + day * 2, 12, 0, 0);
  clock.now = noon + 6 * 3600_000;
  return noon;
}

let twilio: FakeTwilioRest;
let gw: TestGateway;
beforeAll(async () => {
  twilio = await startFakeTwilioRest(AC, AC, TEST_AUTH_TOKEN);
  gw = await startTestGateway({ clock, env: { TWILIO_ACCOUNT_SID: AC, TWILIO_API_BASE_URL: twilio.url } });
  // Runs are driven by the tests (tick / run), never by the timer.
  await gw.audit!.stop();
});
afterAll(async () => {
  await gw.stop();
  await twilio.close();
});

const rfc2822 = (ms: number) => new Date(ms).toUTCString().replace('GMT', '+0000');
const balance = async (id: string) => (await gw.admin('GET', `/v1/accounts/${id}/balance`)).json;
const debits = async (id: string): Promise<any[]> =>
  (await gw.admin('GET', `/v1/accounts/${id}/ledger?limit=200&order=asc`)).json.entries.filter((e: any) => e.kind === 'call_debit');
const listed = async (id: string): Promise<any[]> => (await gw.admin('GET', `/v1/accounts/${id}/calls?limit=100`)).json.calls;

/** Twilio's record of a parent call and its one dialled leg (talk seconds, or a status). */
function twilioCall(o: {
  sid?: string;
  from: string;
  to: string;
  start: number;
  talk: number | null;
  parentStatus?: string;
  legStatus?: string;
  legDuration?: string | null;
  noLeg?: boolean;
}): { parent: FakeCall; leg: FakeCall | null } {
  const sid = o.sid ?? callSid();
  const ring = 5_000;
  const legStatus = o.legStatus ?? (o.talk === null ? 'no-answer' : 'completed');
  const talk = o.talk ?? 0;
  const end = o.start + ring + talk * 1000;
  const parent: FakeCall = {
    sid,
    parent_call_sid: null,
    status: o.parentStatus ?? 'completed',
    duration: (o.parentStatus ?? 'completed') === 'completed' ? String(talk + 7) : null,
    start_time: rfc2822(o.start),
    end_time: (o.parentStatus ?? 'completed') === 'completed' ? rfc2822(end + 2000) : null,
    from: o.from,
    to: o.to,
    direction: 'inbound',
  };
  twilio.calls.set(sid, parent);
  if (o.noLeg) return { parent, leg: null };
  const leg: FakeCall = {
    sid: callSid(),
    parent_call_sid: sid,
    status: legStatus,
    duration: o.legDuration !== undefined ? o.legDuration : legStatus === 'completed' ? String(talk) : null,
    start_time: rfc2822(o.start + 1000),
    end_time: legStatus === 'completed' ? rfc2822(end) : null,
    from: o.from,
    to: o.to,
    direction: 'outbound-dial',
  };
  twilio.calls.set(leg.sid, leg);
  return { parent, leg };
}

const audit = (from: number, to: number) => gw.audit!.audit.run(from, to);

/** The account's archived calls, once the archiver has taken at least `n`. */
async function archivedCalls(accountId: string, n: number): Promise<Record<string, unknown>[]> {
  const end = Date.now() + 10_000;
  for (;;) {
    await gw.archiver.pass();
    const rows = await queryBooks(gw.config.postgres.url, 'SELECT call_sid FROM calls WHERE account_id = $1', [accountId]);
    if (rows.length >= n || Date.now() > end) return rows;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `npm run audit` as a process (its own Redis and PostgreSQL connections), with the gateway's settings. */
function runAuditCommand(args: string[], env: Record<string, string> = {}) {
  return runEntry('src/audit-main.ts', args, {
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: gw.config.redis.prefix,
    DATABASE_URL: gw.config.postgres.url,
    TWILIO_ACCOUNT_SID: AC,
    TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
    TWILIO_API_BASE_URL: twilio.url,
    ...env,
  });
}

it('finds calls settled here matched, and settles once a call whose every signal was lost', async () => {
  const noon = freshDay();
  const a = await createAccount(gw, { monthlyMinutes: 20 });
  // One call whose signals all arrived: settled at 3 minutes (125 s).
  const seen = await placeSoftphoneCall(gw, a.identity);
  await postAll(gw, answeredCallSignals(seen.callSid, 125));
  twilioCall({ sid: seen.callSid, from: `client:${a.identity}`, to: '+14155550100', start: noon, talk: 125 });
  // One call placed here whose every later signal was lost: still holding its reservation.
  const lost = await placeSoftphoneCall(gw, a.identity);
  twilioCall({ sid: lost.callSid, from: `client:${a.identity}`, to: '+14155550100', start: noon + 60_000, talk: 61 });
  expect(await balance(a.id)).toMatchObject({ balance: 17, reserved: 1, activeCalls: 1 });

  const r = await audit(noon - 3600_000, noon + 3600_000);
  expect(r).toEqual({ from: new Date(noon - 3600_000).toISOString(), to: new Date(noon + 3600_000).toISOString(), twilioCalls: 2, matched: 1, settled: 1, mismatched: 0, unmapped: 0 });
  expect(await balance(a.id)).toMatchObject({ balance: 15, reserved: 0, activeCalls: 0, usedThisCycle: 5 });
  expect((await debits(a.id)).map((d) => [d.ref, d.billedMinutes])).toEqual([
    [seen.callSid, 3],
    [lost.callSid, 2],
  ]);
  expect((await listed(a.id)).find((c) => c.callSid === lost.callSid)).toMatchObject({ billedMinutes: 2, billableSeconds: 61 });

  // A second run over the same window settles nothing.
  expect(await audit(noon - 3600_000, noon + 3600_000)).toMatchObject({ twilioCalls: 2, matched: 2, settled: 0, mismatched: 0 });
  expect(await debits(a.id)).toHaveLength(2);
});

it('settles a call Redis lost entirely (softphone and inbound), through the same exactly-once path, listed in /calls', async () => {
  const noon = freshDay();
  const a = await createAccount(gw, { monthlyMinutes: 20 });
  // Placed and settled here, then its record and ledger entry lost with Redis before the
  // archive took them: as if Redis had never seen it.
  const out = await placeSoftphoneCall(gw, a.identity);
  await gw.redis.del(gw.store.keys(a.id).call(out.callSid));
  await gw.redis.zrem(gw.store.keys(a.id).activeCalls, out.callSid);
  twilioCall({ sid: out.callSid, from: `client:${a.identity}`, to: '+14155550100', start: noon, talk: 200 });
  // An inbound call to the account's number Redis never heard of at all.
  const inbound = twilioCall({ from: '+14155550199', to: a.number, start: noon + 120_000, talk: 45 });

  const r = await audit(noon - 60_000, noon + 3600_000);
  expect(r).toMatchObject({ twilioCalls: 2, matched: 0, settled: 2, mismatched: 0, unmapped: 0 });
  const ds = await debits(a.id);
  expect(ds.map((d) => [d.ref, d.billedMinutes])).toEqual(
    expect.arrayContaining([
      [out.callSid, 4],
      [inbound.parent.sid, 1],
    ]),
  );
  const calls = await listed(a.id);
  expect(calls.find((c) => c.callSid === out.callSid)).toMatchObject({ direction: 'outbound', staffId: 'alice', billedMinutes: 4, state: 'ended' });
  expect(calls.find((c) => c.callSid === inbound.parent.sid)).toMatchObject({ direction: 'inbound', from: '+14155550199', to: a.number, billedMinutes: 1 });
  // Dated by its answered leg's end_time (R16).
  expect(ds.find((d) => d.ref === inbound.parent.sid).endedAt).toBe(new Date(noon + 120_000 + 5000 + 45_000).toISOString());

  // Archived once; a second audit (also after the archive) settles nothing.
  expect(await archivedCalls(a.id, 2)).toHaveLength(2);
  expect(await audit(noon - 60_000, noon + 3600_000)).toMatchObject({ matched: 2, settled: 0, mismatched: 0 });
  expect(await archivedCalls(a.id, 2)).toHaveLength(2);
  expect(await debits(a.id)).toHaveLength(2);
});

it('an archived call whose Redis record is gone is found in the books: matched, not settled again', async () => {
  const noon = freshDay();
  const a = await createAccount(gw, { monthlyMinutes: 20 });
  const c = await placeSoftphoneCall(gw, a.identity);
  await postAll(gw, answeredCallSignals(c.callSid, 90));
  twilioCall({ sid: c.callSid, from: `client:${a.identity}`, to: '+14155550100', start: noon, talk: 90 });
  expect(await archivedCalls(a.id, 1)).toHaveLength(1);
  // Trimmed from Redis after the archive (issue #17 §4), call map included.
  await gw.redis.del(gw.store.keys(a.id).call(c.callSid));
  await gw.redis.del(`${gw.config.redis.prefix}:dir:call:${c.callSid}`);
  expect(await audit(noon - 60_000, noon + 60_000)).toMatchObject({ twilioCalls: 1, matched: 1, settled: 0 });
  expect(await debits(a.id)).toHaveLength(1);
});

it('books a call that ended just before a cycle reset in the old cycle', async () => {
  freshDay();
  const anchor = clock.now - 10 * DAY;
  const cycle = cycleContaining(anchor, clock.now);
  const a = await createAccount(gw, { monthlyMinutes: 10, billingAnchor: new Date(anchor).toISOString() });
  // Ends a minute before the reset; nothing about it reached the gateway.
  const start = cycle.end - 60_000 - 5000 - 125_000;
  const rec = twilioCall({ from: `client:${a.identity}`, to: '+14155550100', start, talk: 125 });
  clock.now = cycle.end + 3600_000;
  expect(await audit(start - 1000, start + 1000)).toMatchObject({ twilioCalls: 1, settled: 1 });
  // The new cycle is untouched; the old cycle's leftover paid for it.
  expect(await balance(a.id)).toMatchObject({ balance: 10, usedThisCycle: 0, cycleStart: new Date(cycle.end).toISOString() });
  expect(await debits(a.id)).toEqual([
    expect.objectContaining({ ref: rec.parent.sid, minutes: 0, billedMinutes: 3, debitedMinutes: 3, cycleStart: new Date(cycle.start).toISOString() }),
  ]);
});

it('reports a mismatch with both figures and changes nothing', async () => {
  const noon = freshDay();
  const a = await createAccount(gw, { monthlyMinutes: 20 });
  const c = await placeSoftphoneCall(gw, a.identity);
  await postAll(gw, answeredCallSignals(c.callSid, 60));
  // Twilio's record says the leg talked 150 s (3 min), the signals said 60 s (1 min).
  twilioCall({ sid: c.callSid, from: `client:${a.identity}`, to: '+14155550100', start: noon, talk: 150 });
  const before = await balance(a.id);
  const r = await audit(noon - 60_000, noon + 60_000);
  expect(r).toMatchObject({ twilioCalls: 1, matched: 0, settled: 0, mismatched: 1 });
  expect(await balance(a.id)).toEqual(before);
  expect(await debits(a.id)).toEqual([expect.objectContaining({ ref: c.callSid, billedMinutes: 1 })]);
});

it('leaves an in-progress or incomplete record alone, and counts calls of no account as unmapped', async () => {
  const noon = freshDay();
  const a = await createAccount(gw, { monthlyMinutes: 20 });
  const running = await placeSoftphoneCall(gw, a.identity);
  twilioCall({ sid: running.callSid, from: `client:${a.identity}`, to: '+14155550100', start: noon, talk: null, parentStatus: 'in-progress', legStatus: 'in-progress' });
  // Completed, but its answered leg has no duration yet; and one whose legs are not listed yet.
  twilioCall({ from: `client:${a.identity}`, to: '+14155550100', start: noon + 1000, talk: 80, legDuration: null });
  twilioCall({ from: '+14155550111', to: a.number, start: noon + 2000, talk: 80, noLeg: true });
  // Nobody's: another app on the same Twilio account.
  twilioCall({ from: '+14155550122', to: '+14155550133', start: noon + 3000, talk: 80 });
  twilioCall({ from: 'client:nobody_here', to: '+14155550100', start: noon + 4000, talk: 80 });

  expect(await audit(noon - 60_000, noon + 60_000)).toMatchObject({ twilioCalls: 5, matched: 0, settled: 0, mismatched: 0, unmapped: 2 });
  expect(await balance(a.id)).toMatchObject({ balance: 20, reserved: 1, activeCalls: 1 });
  expect(await debits(a.id)).toEqual([]);
  expect((await listed(a.id)).map((c) => c.callSid)).toEqual([running.callSid]);
});

it('npm run audit: pages through next_page_uri, filters by start_time precisely, prints one JSON line, settles nothing the second time', async () => {
  const noon = freshDay();
  const a = await createAccount(gw, { monthlyMinutes: 50 });
  const from = noon;
  const to = noon + 3600_000;
  // Seven calls inside the window (none seen here), one a second before it, one at its
  // end (excluded: the window is [from, to)), one the next day.
  const inside = [];
  for (let i = 0; i < 7; i++) inside.push(twilioCall({ from: `client:${a.identity}`, to: '+14155550100', start: from + i * 60_000, talk: 31 }));
  twilioCall({ from: `client:${a.identity}`, to: '+14155550100', start: from - 1000, talk: 31 });
  twilioCall({ from: `client:${a.identity}`, to: '+14155550100', start: to, talk: 31 });
  twilioCall({ from: `client:${a.identity}`, to: '+14155550100', start: from + DAY, talk: 31 });
  const pagesBefore = twilio.listPages;

  const first = await runAuditCommand(['--from', new Date(from).toISOString(), '--to', new Date(to).toISOString(), '--page-size', '3']);
  expect(first.code, first.stderr).toBe(0);
  const lines = first.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0]!)).toEqual({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), twilioCalls: 7, matched: 0, settled: 7, mismatched: 0, unmapped: 0 });
  // Twilio's day filter returns the 9 calls (parents and legs: 18 records) of that day: 6 pages of 3.
  expect(twilio.listPages - pagesBefore).toBe(6);
  expect(twilio.requests.some((u) => u.includes('StartTime%3E=') && u.includes('StartTime%3C=') && u.includes('PageSize=3'))).toBe(true);
  expect(first.stderr).toContain('audit finished');
  expect(await debits(a.id)).toHaveLength(7);
  expect(await balance(a.id)).toMatchObject({ balance: 43 });

  const second = await runAuditCommand(['--from', new Date(from).toISOString(), '--to', new Date(to).toISOString(), '--page-size', '3']);
  expect(second.code, second.stderr).toBe(0);
  expect(JSON.parse(second.stdout.trim())).toMatchObject({ twilioCalls: 7, matched: 7, settled: 0 });
  expect(await debits(a.id)).toHaveLength(7);
}, 120_000);

it('npm run audit: a mismatch is logged with both figures; Twilio unreachable is a non-zero exit; bad arguments are refused', async () => {
  const noon = freshDay();
  const a = await createAccount(gw, { monthlyMinutes: 20 });
  const c = await placeInboundCall(gw, a.number);
  const leg = callSid();
  await postAll(gw, [childLegEvent(c.callSid, leg, 2, 'in-progress'), childLegEvent(c.callSid, leg, 3, 'completed', 40), parentEvent(c.callSid, null, 'completed', 45)]);
  twilioCall({ sid: c.callSid, from: '+14155550199', to: a.number, start: noon, talk: 130 });
  const window = ['--from', new Date(noon - 1000).toISOString(), '--to', new Date(noon + 1000).toISOString()];
  const r = await runAuditCommand(window);
  expect(r.code, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout.trim())).toMatchObject({ twilioCalls: 1, mismatched: 1 });
  const line = r.stderr.split('\n').find((l) => l.includes('another figure'));
  expect(JSON.parse(line!)).toMatchObject({ callSid: c.callSid, accountId: a.id, ourBilledMinutes: 1, twilioBilledMinutes: 3 });

  twilio.failWith = 503;
  try {
    const down = await runAuditCommand(window);
    expect(down.code).not.toBe(0);
    expect(down.stdout).toBe('');
    expect(down.stderr).toContain('503');
  } finally {
    twilio.failWith = null;
  }
  const unreachable = await runAuditCommand(window, { TWILIO_API_BASE_URL: 'http://127.0.0.1:9' });
  expect(unreachable.code).toBe(1);
  expect(unreachable.stderr).toContain('unreachable');

  const bad = await runAuditCommand(['--from', 'yesterday', '--to', new Date(noon).toISOString()]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('--from');
  const backwards = await runAuditCommand(['--from', new Date(noon).toISOString(), '--to', new Date(noon - 1).toISOString()]);
  expect(backwards.code).toBe(2);
  expect(backwards.stderr).toContain('--from must be before --to');
}, 120_000);

it('the periodic audit runs on one instance of two (the lease) and counts in /metrics', async () => {
  freshDay();
  const a = await createAccount(gw, { monthlyMinutes: 20 });
  // A lost call that started an hour ago (inside the default 2-day lookback).
  twilioCall({ from: `client:${a.identity}`, to: '+14155550100', start: clock.now - 3600_000, talk: 100 });
  const other = await startTestGateway({ clock, redis: gw.redis, prefix: gw.config.redis.prefix, keepKeys: true, env: { TWILIO_ACCOUNT_SID: AC, TWILIO_API_BASE_URL: twilio.url, DATABASE_URL: gw.config.postgres.url } });
  try {
    await other.audit!.stop();
    await gw.redis.del(`${gw.config.redis.prefix}:audit:lease`);
    const [x, y] = await Promise.all([gw.audit!.tick(), other.audit!.tick()]);
    expect([x, y].filter((r) => r !== null)).toHaveLength(1);
    const ran = (x ?? y)!;
    expect(ran).toMatchObject({ settled: 1 });
    // Held for the interval: neither runs again now.
    expect(await Promise.all([gw.audit!.tick(), other.audit!.tick()])).toEqual([null, null]);
    const runner = x ? gw : other;
    const metrics = await (await fetch(`${runner.url}/metrics`)).text();
    expect(metrics).toMatch(/minutegate_audit_calls_total\{result="settled"\} [1-9]/);
    expect(metrics).toMatch(/minutegate_audit_calls_total\{result="mismatched"\} \d/);
    expect(metrics).toMatch(/minutegate_audit_runs_total\{outcome="ok"\} 1/);
    expect(await debits(a.id)).toHaveLength(1);
  } finally {
    await other.stop();
  }
});

it('a periodic run that fails lets the lease go, so the next look tries again', async () => {
  freshDay();
  await gw.redis.del(`${gw.config.redis.prefix}:audit:lease`);
  twilio.failWith = 503;
  try {
    expect(await gw.audit!.tick()).toBeNull();
  } finally {
    twilio.failWith = null;
  }
  expect(await gw.redis.exists(`${gw.config.redis.prefix}:audit:lease`)).toBe(0);
  expect(await gw.audit!.tick()).not.toBeNull();
  expect(gw.audit!.runs.failed).toBeGreaterThanOrEqual(1);
});
