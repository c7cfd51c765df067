// R19, issue #17 §3: every ledger entry and every settled call reaches PostgreSQL within
// seconds, exactly once — whatever instance archives it, and also when the announcement
// that queues an account was missed.
import { expect, it } from 'vitest';
import { Archiver, DEFAULT_ARCHIVER_OPTIONS } from '../src/jobs/archiver.js';
import { createLogger } from '../src/log.js';
import { ArchiveQueue } from '../src/redis/archive-queue.js';
import { registerScripts } from '../src/redis/scripts.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from './support/calls.js';
import { waitFor } from './support/billing.js';
import { gatewaysPerTest, uniquePrefix, type TestGateway } from './support/gateway.js';
import { queryBooks } from './support/postgres.js';

const gateway = gatewaysPerTest();

async function account(gw: TestGateway, id = 'acme', minutes = 100) {
  const r = await gw.admin('POST', '/v1/accounts', {
    id,
    name: 'Acme',
    monthlyMinutes: minutes,
    staff: [{ id: 'alice', email: 'alice@acme.test', identity: `${id}-alice` }],
  });
  expect(r.status).toBe(201);
}

async function call(gw: TestGateway, identity: string, seconds: number): Promise<string> {
  const placed = await placeSoftphoneCall(gw, identity);
  expect(placed.allowed).toBe(true);
  const statuses = await postAll(gw, answeredCallSignals(placed.callSid, seconds));
  expect(statuses.every((s) => s === 200)).toBe(true);
  return placed.callSid;
}

const ledgerRows = (gw: TestGateway, accountId = 'acme') =>
  queryBooks<{ entry_id: string; kind: string; minutes: number; balance_after: number; ref: string; extra: Record<string, string> }>(
    gw.config.postgres.url,
    'SELECT entry_id, kind, minutes, balance_after, ref, extra FROM ledger_entries WHERE account_id = $1 ORDER BY id_ms, id_seq',
    [accountId],
  );

it('archives every ledger entry and the settled call, with its call detail record, within seconds', async () => {
  const gw = await gateway();
  await account(gw);
  const sid = await call(gw, 'acme-alice', 125);

  const rows = await waitFor(async () => {
    const r = await ledgerRows(gw);
    return r.length === 2 ? r : null;
  }, 5000);
  expect(rows.map((r) => r.kind)).toEqual(['cycle_reset', 'call_debit']);
  expect(rows[1]).toMatchObject({ minutes: -3, balance_after: 97, ref: sid });
  expect(rows[1]!.extra).toMatchObject({ billedMinutes: '3', billableSeconds: '125' });

  // The archived ledger is the ledger: same ids, same order as the Redis stream.
  const stream = await gw.redis.xrange(`${gw.config.redis.prefix}:{acme}:ledger`, '-', '+');
  expect(rows.map((r) => r.entry_id)).toEqual(stream.map(([id]) => id));

  const calls = await queryBooks<Record<string, unknown>>(gw.config.postgres.url, 'SELECT * FROM calls WHERE account_id = $1', ['acme']);
  expect(calls).toHaveLength(1);
  expect(calls[0]).toMatchObject({
    call_sid: sid,
    direction: 'outbound',
    from_number: 'client:acme-alice',
    to_number: '+14155550100',
    staff_id: 'alice',
    billable_seconds: 125,
    billed_minutes: 3,
    debited_minutes: 3,
    overage_minutes: 0,
    ledger_entry_id: rows[1]!.entry_id,
  });
  expect((calls[0]!.legs as unknown[]).length).toBe(1);
  expect(calls[0]!.answered_at).not.toBeNull();

  // The pool's mark: everything archived.
  const [unarchived, archivedTo] = await gw.redis.hmget(`${gw.config.redis.prefix}:{acme}:pool`, 'unarchived', 'archivedTo');
  expect(unarchived).toBeNull();
  expect(archivedTo).toBe(rows[1]!.entry_id);

  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  expect(metrics).toMatch(/^minutegate_archive_lag_seconds \d/m);
  expect(metrics).toMatch(/^minutegate_archive_pending \d/m);
  expect(metrics).toMatch(/^minutegate_archived_total\{kind="entry"\} 2$/m);
  expect(metrics).toMatch(/^minutegate_archive_entry_lag_seconds_count 2$/m);
});

it("archives what a busy account writes within half a second as one batch: one transaction, not one each", async () => {
  const gw = await gateway();
  await account(gw);
  await waitFor(async () => (await ledgerRows(gw)).length === 1); // the opening entry, archived alone
  // Four calls settled together: the first one's entry announces the account, which comes
  // due half a second later (batchDelayMs) with all four.
  const sids = await Promise.all(Array.from({ length: 4 }, () => call(gw, 'acme-alice', 65)));
  const rows = await waitFor(async () => {
    const r = await queryBooks<{ ref: string; archived_at: Date; at: Date }>(
      gw.config.postgres.url,
      "SELECT ref, archived_at, at FROM ledger_entries WHERE account_id = $1 AND kind = 'call_debit'",
      ['acme'],
    );
    return r.length === 4 && r;
  });
  expect(rows.map((r) => r.ref).sort()).toEqual([...sids].sort());
  // archived_at is the transaction's start (now()): one value, one transaction.
  expect(new Set(rows.map((r) => r.archived_at.getTime())).size).toBe(1);
  const first = Math.min(...rows.map((r) => r.at.getTime()));
  expect(rows[0]!.archived_at.getTime() - first).toBeGreaterThanOrEqual(400);
  expect(rows[0]!.archived_at.getTime() - first).toBeLessThan(5000);
});

it('archives the accounts coming due together in one transaction, and one whose batch PostgreSQL refuses holds up no other', async () => {
  const gw = await gateway();
  for (const id of ['acme', 'globex', 'initech']) await account(gw, id);
  for (const id of ['acme', 'globex', 'initech']) await waitFor(async () => (await ledgerRows(gw, id)).length === 1);
  await gw.archiver.stop(); // passes run by hand from here
  const debits = (id: string) =>
    queryBooks<{ ref: string; archived_at: Date }>(gw.config.postgres.url, "SELECT ref, archived_at FROM ledger_entries WHERE account_id = $1 AND kind = 'call_debit'", [id]);
  const passWhenDue = async () => {
    await new Promise((r) => setTimeout(r, 800)); // the announced accounts come due (batchDelayMs)
    await gw.archiver.pass();
  };

  // Two accounts' calls, settled together: one pass, one statement.
  const [a1, g1] = await Promise.all([call(gw, 'acme-alice', 65), call(gw, 'globex-alice', 65)]);
  await passWhenDue();
  const [acme1, globex1] = [await debits('acme'), await debits('globex')];
  expect(acme1.map((r) => r.ref)).toEqual([a1]);
  expect(globex1.map((r) => r.ref)).toEqual([g1]);
  expect(acme1[0]!.archived_at.getTime()).toBe(globex1[0]!.archived_at.getTime());

  // A third account's batch holds an entry PostgreSQL refuses (minutes beyond an integer):
  // the other two are archived all the same, each alone; the third waits, marked unarchived.
  const prefix = gw.config.redis.prefix;
  const bad = (await gw.redis.xadd(`${prefix}:{initech}:ledger`, '*', 'kind', 'adjustment', 'minutes', '99999999999', 'balanceAfter', '0', 'ref', 'x', 'at', String(Date.now())))!;
  await gw.redis.hset(`${prefix}:{initech}:pool`, 'unarchived', bad);
  const [a2, g2] = await Promise.all([call(gw, 'acme-alice', 65), call(gw, 'globex-alice', 65)]);
  await gw.archiver.sweep(); // queues initech by its mark
  await passWhenDue();
  expect((await debits('acme')).map((r) => r.ref).sort()).toEqual([a1, a2].sort());
  expect((await debits('globex')).map((r) => r.ref).sort()).toEqual([g1, g2].sort());
  expect(await ledgerRows(gw, 'initech')).toHaveLength(1);
  expect(await gw.redis.hget(`${prefix}:{initech}:pool`, 'unarchived')).toBe(bad);
});

it("takes a batch's worth of entries a pass, from as many accounts as it takes; the others come next, each entry once", async () => {
  const gw = await gateway();
  await gw.archiver.stop();
  for (const id of ['acme', 'globex', 'initech']) await account(gw, id);
  for (const id of ['acme', 'globex', 'initech']) for (let i = 0; i < 3; i++) await call(gw, `${id}-alice`, 61 + i);
  // An archiver of 4 entries a pass, no delay, over the same queue and books.
  const archiver = new Archiver(
    new ArchiveQueue(gw.redis, registerScripts(gw.redis), gw.config.redis.prefix),
    gw.books.archive,
    null,
    { ...DEFAULT_ARCHIVER_OPTIONS, entriesPerBatch: 4, batchDelayMs: 0 },
    createLogger('silent'),
  );
  await archiver.sweep();
  const perPass: number[] = [];
  while (archiver.archived.entries < 12 && perPass.length < 20) {
    const before = archiver.archived.entries;
    await archiver.pass();
    perPass.push(archiver.archived.entries - before);
  }
  expect(perPass.every((n) => n <= 4)).toBe(true);
  expect(perPass.reduce((a, b) => a + b, 0)).toBe(12);
  for (const id of ['acme', 'globex', 'initech']) {
    expect((await ledgerRows(gw, id)).map((r) => r.kind)).toEqual(['cycle_reset', 'call_debit', 'call_debit', 'call_debit']);
    expect(await gw.redis.hget(`${gw.config.redis.prefix}:{${id}}:pool`, 'unarchived')).toBeNull();
  }
  const [row] = await queryBooks<{ n: number }>(gw.config.postgres.url, 'SELECT count(DISTINCT call_sid)::int AS n FROM calls');
  expect(row!.n).toBe(9);
});

it("writes a call from its ledger entry alone: the call's hash is not read back, and the record the entry carries is shown nowhere", async () => {
  const gw = await gateway();
  await account(gw);
  await gw.archiver.stop(); // settled, not archived yet
  const sid = await call(gw, 'acme-alice', 95);
  const hashKey = `${gw.config.redis.prefix}:{acme}:call:${sid}`;
  const hash = await gw.redis.hgetall(hashKey);
  expect(hash.state).toBe('ended');

  // The ledger API shows the entry as it always did: no "cdr".
  const ledger = await gw.admin('GET', '/v1/accounts/acme/ledger');
  expect(ledger.status).toBe(200);
  const debit = ledger.json.entries.find((e: { kind: string }) => e.kind === 'call_debit');
  expect(debit).toMatchObject({ ref: sid, billedMinutes: 2 });
  expect(debit).not.toHaveProperty('cdr');

  // Gone from Redis before the archive ran: the row comes from the entry. (The account
  // comes due half a second after the entry: batchDelayMs.)
  await gw.redis.del(hashKey);
  const rows = await waitFor(async () => {
    await gw.archiver.pass();
    const r = await ledgerRows(gw);
    return r.length === 2 && r;
  });
  expect(rows.map((r) => r.kind)).toEqual(['cycle_reset', 'call_debit']);
  expect(rows[1]!.extra).not.toHaveProperty('cdr');
  const calls = await queryBooks<Record<string, unknown>>(gw.config.postgres.url, 'SELECT * FROM calls WHERE account_id = $1', ['acme']);
  expect(calls).toHaveLength(1);
  expect(calls[0]).toMatchObject({
    call_sid: sid,
    direction: 'outbound',
    from_number: 'client:acme-alice',
    to_number: '+14155550100',
    staff_id: 'alice',
    billable_seconds: 95,
    billed_minutes: 2,
    reserved_minutes: Number(hash.reservedMinutes),
  });
  expect((calls[0]!.placed_at as Date).getTime()).toBe(Number(hash.createdAt));
  expect((calls[0]!.answered_at as Date).getTime()).toBe(Number(hash.answeredAt));
  expect((calls[0]!.ended_at as Date).getTime()).toBe(Number(hash.callEndedAt));
  expect((calls[0]!.settled_at as Date).getTime()).toBe(Number(hash.endedAt));
  const legSid = Object.keys(hash).find((k) => k.startsWith('leg:'))!.slice(4);
  expect(calls[0]!.legs).toEqual([{ sid: legSid, ...JSON.parse(hash[`leg:${legSid}`]!) }]);
});

it('writes each entry once when a batch is archived again (its mark lost after the commit)', async () => {
  const gw = await gateway();
  await account(gw);
  await call(gw, 'acme-alice', 61);
  await waitFor(async () => ((await ledgerRows(gw)).length === 2 ? true : null), 5000);

  // As if the instance died between its commit and archive-done: the mark is back at the start.
  const pool = `${gw.config.redis.prefix}:{acme}:pool`;
  const first = (await gw.redis.xrange(`${gw.config.redis.prefix}:{acme}:ledger`, '-', '+', 'COUNT', 1))[0]![0];
  await gw.redis.hdel(pool, 'archivedTo');
  await gw.redis.hset(pool, 'unarchived', first);
  expect(await gw.archiver.sweep()).toBe(1);
  await waitFor(async () => ((await gw.redis.hget(pool, 'unarchived')) === null ? true : null), 5000);

  expect((await ledgerRows(gw)).length).toBe(2);
  const calls = await queryBooks(gw.config.postgres.url, 'SELECT call_sid FROM calls');
  expect(calls).toHaveLength(1);
});

it('finds an account whose announcement nobody heard (the sweep at start-up)', async () => {
  const prefix = uniquePrefix('arch-sweep');
  const a = await gateway({ prefix, keepKeys: true });
  await account(a);
  await waitFor(async () => ((await ledgerRows(a)).length === 1 ? true : null), 5000);
  await a.stop();

  // An entry written while no instance listens: a mark in the pool, no announcement heard.
  const b0 = await gateway({ prefix, keepKeys: true });
  await b0.archiver.stop(); // b0 meters but does not archive, as if its archiver were stuck
  await call(b0, 'acme-alice', 90);
  await new Promise((r) => setTimeout(r, 300));
  expect((await ledgerRows(b0)).length).toBe(1);
  await b0.redis.zrem(`${prefix}:archive:due`, 'acme'); // the queue lost it too
  await b0.stop();

  const c = await gateway({ prefix });
  const rows = await waitFor(async () => {
    const r = await ledgerRows(c);
    return r.length === 2 ? r : null;
  }, 5000);
  expect(rows.map((r) => r.kind)).toEqual(['cycle_reset', 'call_debit']);
});

it('two instances archiving the same busy accounts leave every entry exactly once', async () => {
  const prefix = uniquePrefix('arch-two');
  // b shares a's connection and prefix; a, stopped last, removes the keys and the database.
  const a = await gateway({ prefix });
  const b = await gateway({ prefix, redis: a.redis });
  for (const id of ['a1', 'a2', 'a3']) await account(a, id, 1000);
  const work: Promise<string>[] = [];
  for (let i = 0; i < 30; i++) {
    const gw = i % 2 === 0 ? a : b;
    work.push(call(gw, `a${(i % 3) + 1}-alice`, 31 + i));
  }
  await Promise.all(work);
  for (const id of ['a1', 'a2', 'a3']) {
    const xlen = await a.redis.xlen(`${prefix}:{${id}}:ledger`);
    expect(xlen).toBe(11);
    await waitFor(async () => ((await ledgerRows(a, id)).length === xlen ? true : null), 8000);
  }
  const dupes = await queryBooks(a.config.postgres.url, 'SELECT account_id, entry_id FROM ledger_entries GROUP BY 1, 2 HAVING count(*) > 1');
  expect(dupes).toEqual([]);
  const calls = await queryBooks<{ n: number }>(a.config.postgres.url, 'SELECT count(*)::int AS n, count(DISTINCT call_sid)::int AS d FROM calls');
  expect(calls[0]).toEqual({ n: 30, d: 30 });
});

it('an instance with ARCHIVER=off meters and leaves the archive to the others', async () => {
  const prefix = uniquePrefix('arch-off');
  const off = await gateway({ prefix, keepKeys: true, env: { ARCHIVER: 'off' } });
  await account(off);
  await call(off, 'acme-alice', 90);
  await new Promise((r) => setTimeout(r, 1500)); // an archiving instance takes < 1 s (the first test)
  expect(await ledgerRows(off)).toHaveLength(0);
  expect(await off.redis.hget(`${prefix}:{acme}:pool`, 'unarchived')).not.toBeNull();

  const on = await gateway({ prefix });
  const rows = await waitFor(async () => {
    const r = await ledgerRows(on);
    return r.length === 2 ? r : null;
  }, 5000);
  expect(rows.map((r) => r.kind)).toEqual(['cycle_reset', 'call_debit']);
});

it('reports PostgreSQL on /readyz without making the instance unready', async () => {
  const gw = await gateway();
  const ok = await fetch(`${gw.url}/readyz`);
  expect(ok.status).toBe(200);
  expect(await ok.json()).toMatchObject({ status: 'ready', redis: 'ok', postgres: 'ok' });

  const away = await gateway({ env: { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/minutegate_nowhere' } });
  const r = await fetch(`${away.url}/readyz`);
  expect(r.status).toBe(200);
  expect(await r.json()).toMatchObject({ status: 'ready', redis: 'ok', postgres: 'unavailable' });
});
