// The script-level suite: every pool script, driven through PoolStore, against whatever
// Redis topology `connect` returns. pool-scripts.test.ts runs it on the standalone
// server and on a local 3-master Redis Cluster.
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { billableMinutes } from '../src/domain/billable-minutes.js';
import { cycleContaining } from '../src/domain/cycle.js';
import { PoolStore, type PoolSnapshot } from '../src/redis/pool-store.js';
import { registerScripts } from '../src/redis/scripts.js';
import { deleteKeys } from './support/gateway.js';

const DAY = 86_400_000;

export interface Topology {
  connect(): Promise<Redis | Cluster>;
  /** A subscriber connection able to SSUBSCRIBE. */
  subscriber(): Promise<Redis | Cluster>;
  close(): Promise<void>;
}

export function poolScriptSuite(name: string, topology: () => Topology) {
  describe(`pool scripts on ${name}`, () => {
    let topo: Topology;
    let redis: Redis | Cluster;
    let store: PoolStore;
    const prefix = `mgt-lua-${randomBytes(4).toString('hex')}`;
    const newStore = () => new PoolStore(redis, registerScripts(redis), { prefix, deniedMemoryMs: 60_000, finalGraceMs: 120_000 });

    beforeAll(async () => {
      topo = topology();
      redis = await topo.connect();
      store = newStore();
    });
    afterAll(async () => {
      await deleteKeys(redis, prefix);
      await topo.close();
    });

    let n = 0;
    const T0 = Date.UTC(2027, 0, 10, 12, 0, 0);
    async function account(monthly: number, anchor = T0 - 5 * DAY, policy: 'allow' | 'reject' = 'allow') {
      n += 1;
      const id = `acc${n}x${randomBytes(3).toString('hex')}`;
      const snap = await store.createAccount(
        { accountId: id, name: id, monthlyMinutes: monthly, anchor, inboundWhenExhausted: policy, staff: [], phoneNumbers: [] },
        T0,
      );
      expect(snap).not.toBeNull();
      return id;
    }
    const authorize = (accountId: string, sid: string, now = T0, extra: Partial<Parameters<PoolStore['authorizeCall']>[0]> = {}) =>
      store.authorizeCall(
        { accountId, callSid: sid, direction: 'outbound', from: 'client:a', to: '+1', destination: '+1', staffId: 's1', reserveMinutes: 1, authorizationId: '', expectedLegs: 1, check: { member: sid, dueAt: now + DAY }, ...extra },
        now,
      );
    const action = (accountId: string, sid: string, seconds: number, now = T0) =>
      store.recordCallEvent(
        accountId,
        { callSid: sid, kind: 'action', legSid: sid, sequenceNumber: null, status: 'completed', seconds, minutes: billableMinutes(seconds), dialCallSid: null },
        now,
      );
    async function ledger(accountId: string) {
      const rows = await redis.xrange(store.keys(accountId).ledger, '-', '+');
      return rows.map(([, f]) => {
        const o: Record<string, string> = {};
        for (let i = 0; i < f.length; i += 2) o[f[i]!] = f[i + 1]!;
        return o;
      });
    }

    it('creates an account once, with a full allowance as the opening ledger entry', async () => {
      const id = await account(30);
      const again = await store.createAccount(
        { accountId: id, name: 'dup', monthlyMinutes: 999, anchor: T0, inboundWhenExhausted: 'allow', staff: [], phoneNumbers: [] },
        T0,
      );
      expect(again).toBeNull();
      expect(await store.readPool(id, T0)).toMatchObject({ balance: 30, reserved: 0, available: 30, monthlyMinutes: 30, version: 1 });
      expect(await ledger(id)).toEqual([expect.objectContaining({ kind: 'cycle_reset', minutes: '30', balanceAfter: '30' })]);
    });

    it('answers "no such account" as a value, writing nothing, from every pool method', async () => {
      const id = `gone${randomBytes(3).toString('hex')}`;
      expect(await store.readPool(id, T0)).toBeNull();
      expect(await authorize(id, 'CAx')).toBeNull();
      expect(await store.adjust(id, 5, 'credit', 'r', T0)).toBeNull();
      expect(await store.createAuthorization({ accountId: id, authorizationId: 'az', staffId: 's1', requestId: 'q', to: '+1', reserveMinutes: 1, ttlMs: 60_000 }, T0)).toBeNull();
      expect(await store.cancelAuthorization(id, 'az', 's1', T0)).toBeNull();
      expect(await action(id, 'CAx', 60)).toEqual({ outcome: 'unknown_call' });
      expect(await store.releaseHold(id, 'CAx', 1000, T0)).toEqual({ outcome: 'unknown_call' });
      expect(await store.releaseStaffAuthorizations(id, 's1', Date.now(), T0)).toBeNull();
      expect(await store.removeStaff(id, 's1', T0)).toBeNull();
      expect(await redis.exists(store.keys(id).pool, store.keys(id).ledger, store.keys(id).call('CAx'))).toBe(0);
    });

    it('reserves until the pool is exhausted, then denies with no_minutes; repeats get the same answer', async () => {
      const id = await account(2);
      expect((await authorize(id, 'CA1'))?.decision).toBe('allowed');
      expect((await authorize(id, 'CA2'))?.decision).toBe('allowed');
      expect(await authorize(id, 'CA3')).toEqual({ decision: 'denied', reason: 'no_minutes' });
      expect(await authorize(id, 'CA1')).toMatchObject({ decision: 'allowed', via: 'repeat' });
      await action(id, 'CA1', 10);
      // CA3 keeps its denial even though a minute is free again; a new call gets it.
      expect(await authorize(id, 'CA3')).toEqual({ decision: 'denied', reason: 'no_minutes' });
      expect((await authorize(id, 'CA4'))?.decision).toBe('allowed');
    });

    it('allows exactly floor(available / reserve) of many concurrent placements', async () => {
      const id = await account(50);
      const results = await Promise.all(Array.from({ length: 300 }, (_, i) => authorize(id, `CAc${i}`)));
      expect(results.filter((r) => r?.decision === 'allowed')).toHaveLength(50);
      expect(await store.readPool(id, T0)).toMatchObject({ reserved: 50, available: 0, activeCalls: 50 });
    });

    it('debits min(billed, balance), books the rest as overage, exactly once', async () => {
      const id = await account(3);
      await authorize(id, 'CAo');
      const r = await action(id, 'CAo', 7200);
      expect(r).toMatchObject({ outcome: 'finalized', billedMinutes: 120, debitedMinutes: 3, overageMinutes: 117 });
      expect(await action(id, 'CAo', 7200)).toEqual({ outcome: 'duplicate' });
      const late = await store.recordCallEvent(
        id,
        { callSid: 'CAo', kind: 'parent', legSid: 'CAo', sequenceNumber: 9, status: 'completed', seconds: 7300, minutes: 122, dialCallSid: null },
        T0,
      );
      expect(late).toEqual({ outcome: 'late' });
      expect(await store.readPool(id, T0)).toMatchObject({ balance: 0, reserved: 0, usedThisCycle: 120, overageThisCycle: 117 });
      expect((await ledger(id)).filter((e) => e.kind === 'call_debit')).toHaveLength(1);
    });

    it('binds a softphone authorization to its call without reserving twice; expired ones release their minutes', async () => {
      const id = await account(3);
      const a1 = await store.createAuthorization({ accountId: id, authorizationId: 'au1', staffId: 's1', requestId: 'r1', to: '+1', reserveMinutes: 1, ttlMs: 60_000 }, T0);
      expect(a1).toMatchObject({ decision: 'authorized', authorizationId: 'au1', expiresAt: T0 + 60_000, repeat: false });
      const again = await store.createAuthorization({ accountId: id, authorizationId: 'au1b', staffId: 's1', requestId: 'r1', to: '+1', reserveMinutes: 1, ttlMs: 60_000 }, T0 + 10);
      expect(again).toMatchObject({ authorizationId: 'au1', repeat: true });
      await store.createAuthorization({ accountId: id, authorizationId: 'au2', staffId: 's1', requestId: 'r2', to: '+1', reserveMinutes: 1, ttlMs: 60_000 }, T0);
      expect(await store.readPool(id, T0)).toMatchObject({ reserved: 2, activeCalls: 0 });
      const bound = await authorize(id, 'CAb', T0 + 1000, { authorizationId: 'au1' });
      expect(bound).toMatchObject({ decision: 'allowed', via: 'authorization' });
      expect(await store.readPool(id, T0 + 1000)).toMatchObject({ reserved: 2, activeCalls: 1 });
      // au2 is never used: a minute after it was issued its reservation is gone.
      expect(await store.readPool(id, T0 + 60_000)).toMatchObject({ reserved: 1, activeCalls: 1 });
      // An expired authorization falls back to a fresh check.
      expect(await authorize(id, 'CAx', T0 + 61_000, { authorizationId: 'au2' })).toMatchObject({ decision: 'allowed', via: 'reserved' });
    });

    it('issue #16: binds an authorization only to a call to the destination it was issued for', async () => {
      const id = await account(1);
      await store.createAuthorization({ accountId: id, authorizationId: 'aud', staffId: 's1', requestId: 'r', to: '911', reserveMinutes: 0, ttlMs: 60_000, emergency: true }, T0);
      // Another destination is decided afresh: the pool's minute is reserved for it.
      expect(await authorize(id, 'CAd1', T0, { authorizationId: 'aud', to: '+2', destination: '+2' })).toMatchObject({ decision: 'allowed', via: 'reserved', reservedMinutes: 1 });
      expect(await authorize(id, 'CAd2', T0, { authorizationId: 'aud', to: '+2', destination: '+2' })).toEqual({ decision: 'denied', reason: 'no_minutes' });
      // Its own destination binds it (an emergency call: nothing reserved), and uses it up.
      expect(await authorize(id, 'CAd3', T0, { authorizationId: 'aud', to: '911', destination: '911', policy: 'emergency' })).toMatchObject({ decision: 'allowed', reservedMinutes: 0 });
      expect(await store.cancelAuthorization(id, 'aud', 's1', T0)).toBeNull();
      // An emergency call with someone else's destination leaves that authorization alone.
      await store.createAuthorization({ accountId: id, authorizationId: 'aue', staffId: 's1', requestId: 'r2', to: '+3', reserveMinutes: 0, ttlMs: 60_000 }, T0);
      expect(await authorize(id, 'CAd4', T0, { authorizationId: 'aue', to: '911', destination: '911', policy: 'emergency' })).toMatchObject({ decision: 'allowed', reservedMinutes: 0 });
      expect(await store.cancelAuthorization(id, 'aue', 's1', T0)).not.toBeNull();
    });

    it('cancels an unbound authorization at once, only for its own staff member', async () => {
      const id = await account(1);
      await store.createAuthorization({ accountId: id, authorizationId: 'auc', staffId: 's1', requestId: 'r', to: '+1', reserveMinutes: 1, ttlMs: 60_000 }, T0);
      expect(await store.cancelAuthorization(id, 'auc', 's2', T0)).toBeNull();
      expect((await store.cancelAuthorization(id, 'auc', 's1', T0))?.reserved).toBe(0);
      expect(await store.cancelAuthorization(id, 'auc', 's1', T0)).toBeNull();
    });

    it('issue #8: caps open authorizations per staff member, releases them, removes a member and revokes tokens', async () => {
      n += 1;
      const id = `acc${n}x${randomBytes(3).toString('hex')}`;
      await store.createAccount(
        { accountId: id, name: id, monthlyMinutes: 10, anchor: T0 - 5 * DAY, inboundWhenExhausted: 'allow',
          staff: [{ id: 's1', json: '{"id":"s1"}' }, { id: 's2', json: '{"id":"s2"}' }], phoneNumbers: [] },
        T0,
      );
      const auth = (staffId: string, q: string, extra = {}) =>
        store.createAuthorization({ accountId: id, authorizationId: `${staffId}-${q}`, staffId, requestId: q, to: '+1', reserveMinutes: 1, ttlMs: 60_000, maxOpenPerStaff: 2, ...extra }, T0);
      expect((await auth('s1', 'a'))?.decision).toBe('authorized');
      expect((await auth('s1', 'b'))?.decision).toBe('authorized');
      expect(await auth('s1', 'c')).toEqual({ decision: 'denied', reason: 'too_many_open_authorizations' });
      // Issue #16 (R21): an emergency authorization counts like any other.
      expect(await auth('s1', 'sos', { emergency: true })).toEqual({ decision: 'denied', reason: 'too_many_open_authorizations' });
      expect((await auth('s2', 'a'))?.decision).toBe('authorized');
      expect(await store.readPool(id, T0)).toMatchObject({ reserved: 3 });
      // A live lease of some instance keeps them; without one they are released.
      const presence = store.keys(id).presence('s1');
      await redis.zadd(presence, Date.now() + 10_000, 'other-instance');
      expect(await store.releaseStaffAuthorizations(id, 's1', Date.now(), T0)).toBeNull();
      await redis.zrem(presence, 'other-instance');
      expect(await store.releaseStaffAuthorizations(id, 's1', Date.now(), T0)).toBe(2);
      expect(await store.readPool(id, T0)).toMatchObject({ reserved: 1 });
      expect((await auth('s1', 'd'))?.decision).toBe('authorized');
      // Removing s2 releases theirs and moves their token generation on.
      expect(await store.removeStaff(id, 's2', T0)).toEqual({ memberJson: '{"id":"s2"}', released: 1 });
      expect(await store.removeStaff(id, 's2', T0)).toBeNull();
      expect(await redis.hget(store.keys(id).tokenGen, 's2')).toBe('1');
      expect(await store.revokeStaffTokens(id, 's1')).toBe(true);
      expect(await store.revokeStaffTokens(id, 's2')).toBe(false);
      expect(await redis.hget(store.keys(id).tokenGen, 's1')).toBe('1');
      expect(await store.readPool(id, T0)).toMatchObject({ reserved: 1 });
    });

    it('adjusts with a ledger entry and never below zero', async () => {
      const id = await account(5);
      expect(await store.adjust(id, 10, 'credit', 'r1', T0)).toMatchObject({ ok: true, snapshot: { balance: 15 } });
      expect(await store.adjust(id, -16, 'too much', 'r2', T0)).toEqual({ ok: false, balance: 15 });
      expect(await store.adjust(id, -15, 'all', 'r3', T0)).toMatchObject({ ok: true, snapshot: { balance: 0 } });
      expect((await ledger(id)).map((e) => [e.kind, e.minutes])).toEqual([
        ['cycle_reset', '5'],
        ['adjustment', '10'],
        ['adjustment', '-15'],
      ]);
    });

    it('resets the pool exactly once at the cycle start, even when many find it due at once; live reservations carry over', async () => {
      const anchor = Date.UTC(2026, 11, 31, 9, 0, 0); // Dec 31 → Jan 31 → Feb 28
      const id = await account(10, anchor);
      await authorize(id, 'CAlive', T0);
      await authorize(id, 'CAdone', T0);
      await action(id, 'CAdone', 600, T0); // 10 minutes: balance 0
      expect(await store.readPool(id, T0)).toMatchObject({ balance: 0, reserved: 1 });
      const cycle = cycleContaining(anchor, T0);
      const after = cycle.end + 1;
      // Fresh stores know no anchor: each takes the CYCLE_DUE round trip.
      const racers = Array.from({ length: 20 }, () => newStore());
      const snaps = await Promise.all(racers.map((s, i) => (i % 2 ? s.readPool(id, after) : s.adjust(id, 1, 'race', `r${i}`, after).then((r) => (r as { snapshot: PoolSnapshot }).snapshot))));
      expect(snaps.every((s) => s?.cycleStart === cycle.end)).toBe(true);
      const resets = (await ledger(id)).filter((e) => e.kind === 'cycle_reset');
      expect(resets).toHaveLength(2);
      const final = await store.readPool(id, after);
      expect(final).toMatchObject({ balance: 10 + 10, reserved: 1, usedThisCycle: 0, overageThisCycle: 0, activeCalls: 1 });
      expect(new Date(final!.cycleEnd).toISOString()).toBe('2027-02-28T09:00:00.000Z');
      // The live call ends in the new cycle and is debited there.
      expect(await action(id, 'CAlive', 61, after)).toMatchObject({ outcome: 'finalized', debitedMinutes: 2 });
    });

    it("a leg's progress while a reset is due is recorded without it; the signal that ends the call applies the reset first and counts once", async () => {
      const anchor = Date.UTC(2026, 11, 31, 9, 0, 0);
      const id = await account(10, anchor);
      await authorize(id, 'CAcyc', T0);
      const after = cycleContaining(anchor, T0).end + 1;
      const resets = async () => (await ledger(id)).filter((e) => e.kind === 'cycle_reset').length;
      // Fresh stores know no anchor: a script that loads the pool takes the CYCLE_DUE round trip.
      const leg = (status: string, seq: number) =>
        newStore().recordCallEvent(id, { callSid: 'CAcyc', kind: 'child', legSid: 'CLcyc', sequenceNumber: seq, status, seconds: null, minutes: null, dialCallSid: null }, after);
      expect(await leg('ringing', 1)).toMatchObject({ outcome: 'recorded' });
      expect(await leg('in-progress', 2)).toMatchObject({ outcome: 'recorded' });
      expect(await resets()).toBe(1); // the opening one: a leg's progress left the pool alone
      const ended = await newStore().recordCallEvent(
        id,
        { callSid: 'CAcyc', kind: 'action', legSid: 'CAcyc', sequenceNumber: null, status: 'completed', seconds: 61, minutes: 2, dialCallSid: 'CLcyc' },
        after,
      );
      expect(ended).toMatchObject({ outcome: 'finalized', debitedMinutes: 2, cycleStart: after - 1 });
      expect(await resets()).toBe(2);
      expect(await store.readPool(id, after)).toMatchObject({ balance: 8, reserved: 0, usedThisCycle: 2, activeCalls: 0 });
      expect(await action(id, 'CAcyc', 61, after)).toMatchObject({ outcome: 'duplicate' });
    });

    it('publishes every change as a snapshot on the account channel', async () => {
      const id = await account(5);
      const sub = await topo.subscriber();
      const got: { t: string; version: number; balance?: number; event?: string }[] = [];
      sub.on('smessage', (_c: string, m: string) => got.push(JSON.parse(m)));
      await sub.ssubscribe(store.keys(id).events);
      await authorize(id, 'CAp1');
      await action(id, 'CAp1', 125);
      await new Promise((r) => setTimeout(r, 200));
      sub.disconnect();
      expect(got.map((m) => m.t)).toEqual(['balance', 'balance', 'call']);
      expect(got[1]).toMatchObject({ balance: 2, version: got[0]!.version + 1 });
      expect(got[2]).toMatchObject({ event: 'ended', billedMinutes: 3 });
    });

    it('announces a call as started once, with who and where, when a leg answers or a call without legs does', async () => {
      const id = await account(5);
      const sub = await topo.subscriber();
      const got: { t: string; event?: string; callSid?: string; direction?: string; from?: string; to?: string; staffId?: string }[] = [];
      sub.on('smessage', (_c: string, m: string) => got.push(JSON.parse(m)));
      await sub.ssubscribe(store.keys(id).events);
      const signal = (sid: string, kind: 'parent' | 'child', legSid: string, sequenceNumber: number, status: string) =>
        store.recordCallEvent(id, { callSid: sid, kind, legSid, sequenceNumber, status, seconds: null, minutes: null, dialCallSid: null }, T0 + 1000);
      // A dialled leg: ringing says nothing, answering starts the call, a repeat does not.
      await authorize(id, 'CAs1', T0, { to: '+14155550100', destination: '+14155550100' });
      expect(await signal('CAs1', 'child', 'CAleg1', 0, 'ringing')).toMatchObject({ outcome: 'recorded' });
      expect(await signal('CAs1', 'child', 'CAleg1', 1, 'in-progress')).toMatchObject({ outcome: 'recorded' });
      await signal('CAs1', 'child', 'CAleg2', 0, 'in-progress');
      // A call that dials no leg starts when its parent answers.
      await authorize(id, 'CAs2', T0, { direction: 'inbound', from: '+14155550111', to: '+14155550122', staffId: '', expectedLegs: 0 });
      expect(await signal('CAs2', 'parent', 'CAs2', 0, 'in-progress')).toMatchObject({ outcome: 'recorded' });
      await new Promise((r) => setTimeout(r, 200));
      sub.disconnect();
      const started = got.filter((m) => m.t === 'call' && m.event === 'started');
      expect(started).toEqual([
        expect.objectContaining({ callSid: 'CAs1', direction: 'outbound', from: 'client:a', to: '+14155550100', staffId: 's1' }),
        expect.objectContaining({ callSid: 'CAs2', direction: 'inbound', from: '+14155550111', to: '+14155550122', staffId: '' }),
      ]);
      expect(await redis.hget(store.keys(id).call('CAs1'), 'answeredAt')).toBe(String(T0 + 1000));
    });

    it('a pool written before plan and add-ons were kept apart counts its allowance as plan and its pending cut as a plan cut', async () => {
      const id = await account(300);
      const k = store.keys(id);
      await redis.hdel(k.pool, 'plan', 'addon');
      await redis.hset(k.pool, 'pendingMonthly', '120');
      expect(await store.readPool(id, T0)).toMatchObject({
        planMinutes: 300, addonMinutes: 0, monthlyMinutes: 300, pendingPlanMinutes: 120, pendingMonthlyMinutes: 120, pendingAddonMinutes: null,
      });
      const next = cycleContaining(T0 - 5 * DAY, T0).end;
      expect(await store.readPool(id, next)).toMatchObject({
        balance: 120, planMinutes: 120, addonMinutes: 0, monthlyMinutes: 120, pendingPlanMinutes: null, pendingMonthlyMinutes: null,
      });
      expect(await redis.hmget(k.pool, 'plan', 'addon', 'monthly', 'pendingMonthly', 'pendingPlan', 'addonEnding')).toEqual(['120', '0', '120', null, null, null]);
    });

    it('keeps the pool as a hash table from its first run on, a pool written before that too, and a call from when it opens; the snapshot is unchanged', async () => {
      const id = await account(300);
      const k = store.keys(id);
      // Asked of each master as a connection of its own: the one that holds the key answers,
      // the others MOVED.
      const encodingOf = async (key: string) => {
        for (const n of 'nodes' in redis ? (redis as Cluster).nodes('master') : [redis as Redis]) {
          const e = await n.object('ENCODING', key).catch(() => null);
          if (e) return e;
        }
        return null;
      };
      const encoding = () => encodingOf(k.pool);
      const before = await store.readPool(id, T0);
      expect(await encoding()).toBe('hashtable');
      // A pool from an older version: a listpack without the layout field (what RESTORE of a
      // DUMP taken then would give). The next script converts it, and answers the same.
      const fields = await redis.hgetall(k.pool);
      delete fields.layout;
      await redis.del(k.pool);
      await redis.hset(k.pool, fields);
      expect(await encoding()).toBe('listpack');
      expect(await store.readPool(id, T0)).toEqual(before);
      expect(await encoding()).toBe('hashtable');
      expect((await redis.hget(k.pool, 'layout'))!.length).toBeGreaterThan(64);
      // A call's hash is one from the moment it opens, and stays one once settled.
      const sid = `CA${randomBytes(16).toString('hex')}`;
      expect((await authorize(id, sid))?.decision).toBe('allowed');
      const callEncoding = () => encodingOf(k.call(sid));
      expect(await callEncoding()).toBe('hashtable');
      expect((await action(id, sid, 61)).outcome).toBe('finalized');
      expect(await callEncoding()).toBe('hashtable');
    });

    it('keeps every key of an account in one hash slot', async () => {
      const k = store.keys('slotcheck');
      const names = [k.pool, k.ledger, k.auths, k.authExpiry, k.profile, k.staff, k.numbers, k.activeCalls, k.endedCalls, k.call('CA1'), k.events];
      for (const key of names) expect(key).toContain('{slotcheck}');
    });
  });
}
