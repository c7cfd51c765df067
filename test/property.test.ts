// R4 + R5 as a property: random call lifecycles whose signals arrive in any order, any
// number of times, partly at once → one debit per call, equal to R4 on the answered leg.
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { billableMinutes } from '../src/domain/billable-minutes.js';
import { accountKeys } from '../src/redis/keys.js';
import { callSid, startTestGateway, type TestGateway } from './support/gateway.js';
import { childLegEvent, dialAction, parentEvent } from './support/calls.js';
import { TEST_REDIS_URL } from './support/redis-url.js';

let gw: TestGateway;
let sub: Redis;
beforeAll(async () => {
  gw = await startTestGateway();
  sub = new Redis(TEST_REDIS_URL);
});
afterAll(async () => {
  sub.disconnect();
  await gw.stop();
});

const TERMINAL_UNANSWERED = ['busy', 'no-answer', 'failed', 'canceled'] as const;

const lifecycle = fc
  .record({
    inbound: fc.boolean(),
    legs: fc.integer({ min: 0, max: 3 }),
    answeredPick: fc.integer({ min: -1, max: 2 }),
    talk: fc.integer({ min: 0, max: 7200 }),
    ring: fc.integer({ min: 0, max: 60 }),
    unansweredStatuses: fc.array(fc.constantFrom(...TERMINAL_UNANSWERED), { minLength: 3, maxLength: 3 }),
    parentCallback: fc.boolean(),
    parentGaveUp: fc.boolean(),
    keepProgress: fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
  })
  .map((g) => {
    // A softphone call dials one number (one leg at most); an inbound call rings the
    // account's three softphones (up to three legs). At most one leg answers.
    const legs = g.inbound ? g.legs : Math.min(g.legs, 1);
    const answered = legs > 0 && g.answeredPick >= 0 ? g.answeredPick % legs : -1;
    return { ...g, legs, answered };
  });

type Lifecycle = typeof lifecycle extends fc.Arbitrary<infer T> ? T : never;

function signalsOf(parent: string, l: Lifecycle): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  const childSids = Array.from({ length: l.legs }, () => callSid());
  let k = 0;
  const progress = (s: Record<string, string>) => {
    if (l.keepProgress[k++ % 12]) out.push(s); // progress callbacks may go missing
  };
  childSids.forEach((child, i) => {
    progress(childLegEvent(parent, child, 0, 'initiated'));
    progress(childLegEvent(parent, child, 1, 'ringing'));
    if (i === l.answered) {
      progress(childLegEvent(parent, child, 2, 'in-progress'));
      out.push(childLegEvent(parent, child, 3, 'completed', l.talk));
    } else {
      out.push(childLegEvent(parent, child, 2, l.unansweredStatuses[i]!, 0));
    }
  });
  const answeredSid = l.answered >= 0 ? childSids[l.answered]! : (childSids[0] ?? callSid());
  out.push(
    l.answered >= 0
      ? dialAction(parent, answeredSid, 'completed', l.talk)
      : dialAction(parent, answeredSid, l.legs === 0 ? 'failed' : 'no-answer', 0),
  );
  if (l.parentCallback) {
    const status = l.answered < 0 && l.parentGaveUp ? 'canceled' : 'completed';
    out.push(parentEvent(parent, null, status, status === 'completed' ? l.talk + l.ring : 0));
  }
  return out;
}

it('debits every call exactly once, as R4 says, whatever the order and repetition of its signals', async () => {
  const id = `prop${Date.now().toString(36)}`;
  const staff = ['a', 'b', 'c'].map((s) => ({ id: s, email: `${s}@x.example`, identity: `${id}_${s}` }));
  const number = `+1556${String(Date.now() % 1e7).padStart(7, '0')}`;
  const created = await gw.admin('POST', '/v1/accounts', { id, name: 'Prop', monthlyMinutes: 1_000_000, staff, phoneNumbers: [number] });
  expect(created.status).toBe(201);

  const versions: number[] = [];
  const channel = accountKeys(gw.config.redis.prefix, id).events;
  sub.on('smessage', (_ch: string, msg: string) => {
    const m = JSON.parse(msg) as { t: string; version: number };
    if (m.t === 'balance') versions.push(m.version);
  });
  await sub.ssubscribe(channel);

  const expected = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(
      fc.array(lifecycle, { minLength: 1, maxLength: 3 }),
      fc.array(fc.nat({ max: 1_000_000 }), { minLength: 64, maxLength: 64 }),
      async (calls, noise) => {
        const signals: Record<string, string>[] = [];
        for (const l of calls) {
          const sid = callSid();
          const placed = await gw.twilio('/twilio/voice', {
            CallSid: sid,
            CallStatus: 'ringing',
            Direction: 'inbound',
            ...(l.inbound
              ? { From: '+14155550123', To: number }
              : { From: `client:${staff[0]!.identity}`, To: '+14155550100' }),
          });
          expect(placed.text).toContain('<Dial');
          expected.set(sid, l.answered >= 0 ? billableMinutes(l.talk) : 0);
          signals.push(...signalsOf(sid, l));
        }
        // Duplicates (Twilio retries), then a random order, delivered in random-sized
        // concurrent batches.
        const withDups = [...signals, ...signals.filter((_, i) => noise[i % 64]! % 3 === 0)];
        const order = withDups
          .map((s, i) => ({ s, key: noise[(i * 7) % 64]! * 1000 + i }))
          .sort((x, y) => x.key - y.key)
          .map((x) => x.s);
        let i = 0;
        while (i < order.length) {
          const n = 1 + (noise[i % 64]! % 4);
          const batch = order.slice(i, i + n);
          const res = await Promise.all(batch.map((s) => gw.twilio('/twilio/status', s)));
          expect(res.map((r) => r.status)).toEqual(batch.map(() => 200));
          i += n;
        }
      },
    ),
    { numRuns: 40 },
  );

  // Every call final, each debited once with R4's minutes; the books balance.
  const bal = (await gw.admin('GET', `/v1/accounts/${id}/balance`)).json;
  expect(bal).toMatchObject({ reserved: 0, activeCalls: 0 });
  const entries: any[] = [];
  let cursor: string | null = null;
  do {
    const page: any = (await gw.admin('GET', `/v1/accounts/${id}/ledger?limit=500${cursor ? `&cursor=${cursor}` : ''}`)).json;
    entries.push(...page.entries);
    cursor = page.nextCursor;
  } while (cursor);
  const debits = entries.filter((e) => e.kind === 'call_debit');
  expect(debits).toHaveLength(expected.size);
  for (const d of debits) {
    expect(expected.has(d.ref)).toBe(true);
    expect(d.billedMinutes).toBe(expected.get(d.ref));
  }
  expect(new Set(debits.map((d) => d.ref)).size).toBe(expected.size);
  const total = [...expected.values()].reduce((a, b) => a + b, 0);
  expect(bal.usedThisCycle).toBe(total);
  expect(entries.reduce((s, e) => s + e.minutes, 0)).toBe(bal.balance);

  // Published versions only ever go up.
  await expect.poll(() => versions[versions.length - 1]).toBe(bal.version);
  expect(versions.length).toBeGreaterThan(expected.size);
  for (let j = 1; j < versions.length; j++) expect(versions[j]!).toBeGreaterThan(versions[j - 1]!);
  expect(versions[versions.length - 1]).toBe(bal.version);
});
