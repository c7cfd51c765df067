// R15's queue (issue #12): each call's reconciliation check lives in its account's slot,
// written by the script the webhook runs anyway; the global index of accounts is written
// only when an account's earliest check moves earlier; leases keep every check when an
// instance dies mid-pass; the index entry of an account survives the race between a pass
// that empties the account and a new call; what older versions queued globally is drained.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountKeys, directoryKeys } from '../src/redis/keys.js';
import { ReconcileQueue } from '../src/redis/reconcile-queue.js';
import { registerScripts } from '../src/redis/scripts.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from './support/calls.js';
import { createAccount, startTestGateway, type TestClock, type TestGateway } from './support/gateway.js';
import { startRedisServer } from './support/redis-server.js';
import { Redis } from 'ioredis';

const HOUR = 3600_000;
const LEASE = 120_000;

describe('reconciliation checks in the account slot', () => {
  const clock: TestClock = { now: Date.UTC(2031, 6, 1, 9, 0, 0) };
  let gw: TestGateway;
  let queue: ReconcileQueue;
  let prefix: string;
  const checksOf = async (id: string) => ((await gw.redis.call('ZRANGE', accountKeys(prefix, id).checks, '0', '-1', 'WITHSCORES')) as unknown[]).flat().map(String);
  const indexOf = (id: string) => gw.redis.zscore(directoryKeys(prefix).reconcileIndex, id);
  const noted = (id: string) => gw.redis.hget(accountKeys(prefix, id).pool, 'reconcileAt');

  beforeAll(async () => {
    gw = await startTestGateway({ clock, env: { RECONCILE_POLL_SECONDS: '3600', RECONCILE_AFTER_SECONDS: '3600', MAX_CALL_HOLD_SECONDS: String(4 * 3600) } });
    prefix = gw.config.redis.prefix;
    queue = new ReconcileQueue(gw.redis, registerScripts(gw.redis), prefix);
  });
  afterAll(() => gw.stop());

  it('a placed call queues its check in its account; the index is written for the first call, not again for later ones', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const t0 = clock.now;
    const first = await placeSoftphoneCall(gw, a.identity);
    clock.now += 1000;
    const second = await placeSoftphoneCall(gw, a.identity);
    expect(first.allowed && second.allowed).toBe(true);
    expect(await checksOf(a.id)).toEqual([first.callSid, String(t0 + HOUR), second.callSid, String(t0 + 1000 + HOUR)]);
    // The index holds the account at its earliest check; nothing went to the old global queue.
    expect(await indexOf(a.id)).toBe(String(t0 + HOUR));
    expect(await noted(a.id)).toBe(String(t0 + HOUR));
    expect(await gw.redis.zcard(directoryKeys(prefix).reconcile)).toBe(0);

    // A call that becomes final needs no check: it leaves the queue with its debit.
    await postAll(gw, answeredCallSignals(first.callSid, 61));
    expect(await checksOf(a.id)).toEqual([second.callSid, String(t0 + 1000 + HOUR)]);
  });

  it('a denied call queues nothing', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 0 });
    const call = await placeSoftphoneCall(gw, a.identity);
    expect(call.allowed).toBe(false);
    expect(await checksOf(a.id)).toEqual([]);
    expect(await indexOf(a.id)).toBeNull();
  });

  it('leases accounts and checks: a second instance gets none of them, and all are due again when an instance dies mid-pass', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const t0 = clock.now;
    await queue.schedule(a.id, 'CAlease000000000000000000000000001', t0 - 1);
    const mine = (await queue.claimAccounts(t0, LEASE, 1000)).filter((c) => c.accountId === a.id);
    expect(mine).toHaveLength(1);
    expect((await queue.claimAccounts(t0, LEASE, 1000)).some((c) => c.accountId === a.id)).toBe(false);
    expect((await queue.claimChecks(a.id, t0, LEASE, 50)).members).toEqual(['CAlease000000000000000000000000001']);
    expect((await queue.claimChecks(a.id, t0, LEASE, 50)).members).toEqual([]);
    // Nobody released anything: once the leases end, the account and its check are due again.
    const later = t0 + LEASE + 1;
    expect((await queue.claimAccounts(later, LEASE, 1000)).some((c) => c.accountId === a.id)).toBe(true);
    expect((await queue.claimChecks(a.id, later, LEASE, 50)).members).toEqual(['CAlease000000000000000000000000001']);
  });

  it('a pass that leaves an account with no checks takes it out of the index (its own lease recognised)', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const t0 = clock.now;
    await queue.schedule(a.id, 'CAempty000000000000000000000000001', t0 - 1);
    const [claimed] = (await queue.claimAccounts(t0, LEASE, 1000)).filter((c) => c.accountId === a.id);
    expect(await indexOf(a.id)).toBe(String(claimed!.leaseEnd));
    await queue.drop(a.id, 'CAempty000000000000000000000000001');
    const { next } = await queue.claimChecks(a.id, t0, LEASE, 0);
    expect(next).toBeNull();
    await queue.release(claimed!, next);
    expect(await indexOf(a.id)).toBeNull();
    expect(await noted(a.id)).toBeNull();
  });

  it('a call placed while a pass empties its account keeps the account in the index, in either order of the last two writes', async () => {
    for (const indexFirst of [true, false]) {
      const a = await createAccount(gw, { monthlyMinutes: 10 });
      const t0 = clock.now;
      await queue.schedule(a.id, 'CArace0000000000000000000000000001', t0 - 1);
      const [claimed] = (await queue.claimAccounts(t0, LEASE, 1000)).filter((c) => c.accountId === a.id);
      const { members } = await queue.claimChecks(a.id, t0, LEASE, 50);
      for (const m of members) await queue.drop(a.id, m);
      const { next } = await queue.claimChecks(a.id, t0, LEASE, 0);
      expect(next).toBeNull();
      // Between the pass's last look and its release, a call is placed (due long after the
      // lease): its script notes the account as unindexed and asks for an index write.
      const due = t0 + HOUR;
      const sid = `CArace${indexFirst ? 1 : 2}${String(t0).padStart(27, '0')}`;
      const opened = await gw.store.authorizeCall(
        { accountId: a.id, callSid: sid, direction: 'outbound', from: `client:${a.identity}`, to: '+14155550100', staffId: 'alice',
          reserveMinutes: 1, authorizationId: '', expectedLegs: 1, check: { member: sid, dueAt: due } },
        t0,
      );
      expect(opened).toMatchObject({ decision: 'allowed', indexAt: due });
      if (indexFirst) {
        await queue.index(a.id, due);
        await queue.release(claimed!, next);
      } else {
        await queue.release(claimed!, next);
        await queue.index(a.id, due);
      }
      expect(await indexOf(a.id)).toBe(String(due));
      expect(await checksOf(a.id)).toEqual([sid, String(due)]);
    }
  });

  it('a pass checks what is due, re-times what is still open, and leaves the index at the next due check', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const t0 = clock.now;
    const call = await placeSoftphoneCall(gw, a.identity);
    clock.now = t0 + HOUR + 1;
    // No REST settings here: an open call that never ended is looked at again later.
    await gw.reconciler.tick();
    const [member, score] = await checksOf(a.id);
    expect(member).toBe(call.callSid);
    expect(Number(score)).toBeGreaterThan(clock.now);
    expect(await indexOf(a.id)).toBe(score);
    expect(await noted(a.id)).toBe(score);
  });

  it('an account whose index write was lost is found again by the repair sweep', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const call = await placeSoftphoneCall(gw, a.identity);
    // As if the webhook's index write had failed on an instance that then died.
    await gw.redis.zrem(directoryKeys(prefix).reconcileIndex, a.id);
    await gw.reconciler.tick();
    expect(await indexOf(a.id)).toBeNull(); // the sweep ran at start-up; the next is an hour away
    clock.now += 3600_000;
    await gw.reconciler.tick();
    const [member, score] = await checksOf(a.id);
    expect(member).toBe(call.callSid);
    expect(await indexOf(a.id)).toBe(score);
  });

  it('drains what older versions queued globally: a check still needed moves into its account', async () => {
    const a = await createAccount(gw, { monthlyMinutes: 10 });
    const call = await placeSoftphoneCall(gw, a.identity);
    // As an older version left it: the check in the global queue, none in the account.
    await queue.drop(a.id, call.callSid);
    await gw.redis.zadd(directoryKeys(prefix).reconcile, clock.now - 1, `${a.id} ${call.callSid}`);
    await gw.reconciler.tick();
    expect(await gw.redis.zscore(directoryKeys(prefix).reconcile, `${a.id} ${call.callSid}`)).toBeNull();
    const [member, score] = await checksOf(a.id);
    expect(member).toBe(call.callSid);
    expect(await indexOf(a.id)).toBe(score);
  });
});

describe('an index write that fails', () => {
  it('does not fail the caller, and is written by the next retry once Redis answers again', async () => {
    const srv = await startRedisServer();
    const redis = new Redis(srv.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true });
    redis.on('error', () => {});
    await redis.connect();
    const q = new ReconcileQueue(redis, registerScripts(redis), 'mgtest-idx');
    const key = directoryKeys('mgtest-idx').reconcileIndex;
    try {
      await srv.stop();
      await expect(q.index('acc1', 1_000)).resolves.toBeUndefined();
      expect(q.unindexedCount).toBe(1);
      await expect(q.retryUnindexed()).rejects.toThrow();
      await srv.start();
      await expect.poll(() => redis.ping().catch(() => 'down'), { timeout: 10_000 }).toBe('PONG');
      expect(await q.retryUnindexed()).toBe(1);
      expect(await redis.zscore(key, 'acc1')).toBe('1000');
      expect(await q.retryUnindexed()).toBe(0);
      expect(q.unindexedCount).toBe(0);
    } finally {
      redis.disconnect();
      await srv.stop();
    }
  });
});
