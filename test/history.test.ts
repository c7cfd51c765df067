// Issue #17 §5: the ledger and the calls answer the whole history — PostgreSQL merged with
// what is still only in Redis — in today's shapes and cursors; usage per cycle by staff
// member or day; a streamed CSV export of the calls that ended in a window. "Trimmed from
// Redis" is simulated by deleting archived entries (XDEL) and call records (DEL + ZREM).
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { afterEach, expect, it } from 'vitest';
import { ADMIN, api, staffToken, waitFor } from './support/billing.js';
import { answeredCallSignals, placeInboundCall, placeSoftphoneCall, postAll } from './support/calls.js';
import { startTestGateway, TEST_ADMIN_KEY, type TestGateway } from './support/gateway.js';
import { queryBooks } from './support/postgres.js';

const running: TestGateway[] = [];
afterEach(async () => {
  for (const gw of running.splice(0).reverse()) await gw.stop();
});

async function gateway(): Promise<TestGateway> {
  const gw = await startTestGateway();
  running.push(gw);
  return gw;
}

const NUMBER = '+15005550177';

async function account(gw: TestGateway, id = 'acme', over: Record<string, unknown> = {}) {
  const r = await gw.admin('POST', '/v1/accounts', {
    id,
    name: 'Acme',
    monthlyMinutes: 1000,
    staff: [
      { id: 'alice', email: 'alice@acme.test', identity: `${id}-alice` },
      { id: 'bob', email: 'bob@acme.test', identity: `${id}-bob` },
    ],
    phoneNumbers: [id === 'acme' ? NUMBER : '+15005550178'],
    ...over,
  });
  expect(r.status, JSON.stringify(r.json)).toBe(201);
}

async function call(gw: TestGateway, identity: string, seconds: number): Promise<string> {
  const placed = await placeSoftphoneCall(gw, identity);
  expect(placed.allowed).toBe(true);
  expect((await postAll(gw, answeredCallSignals(placed.callSid, seconds))).every((s) => s === 200)).toBe(true);
  return placed.callSid;
}

async function inbound(gw: TestGateway, seconds: number, from?: string): Promise<string> {
  const placed = await placeInboundCall(gw, NUMBER, from);
  expect(placed.allowed).toBe(true);
  expect((await postAll(gw, answeredCallSignals(placed.callSid, seconds))).every((s) => s === 200)).toBe(true);
  return placed.callSid;
}

const ledgerKey = (gw: TestGateway, id = 'acme') => `${gw.config.redis.prefix}:{${id}}:ledger`;

/** Waits until PostgreSQL holds every entry of the account's Redis ledger. */
async function archived(gw: TestGateway, id = 'acme'): Promise<void> {
  const xlen = await gw.redis.xlen(ledgerKey(gw, id));
  await waitFor(async () => {
    const [r] = await queryBooks<{ n: number }>(gw.config.postgres.url, 'SELECT count(*)::int AS n FROM ledger_entries WHERE account_id = $1', [id]);
    return r!.n === xlen ? true : null;
  }, 8000);
}

/** As the trimming (archive-done-2.lua, calls-archived-n.lua) does, now rather than after the windows. */
async function trim(gw: TestGateway, entryIds: string[], callSids: string[], id = 'acme'): Promise<void> {
  const p = gw.config.redis.prefix;
  if (entryIds.length) expect(await gw.redis.xdel(ledgerKey(gw, id), ...entryIds)).toBe(entryIds.length);
  for (const sid of callSids) {
    expect(await gw.redis.del(`${p}:{${id}}:call:${sid}`)).toBe(1);
    // An archived call has left the ended set already (calls-archived-n.lua); one not yet archived leaves it here.
    await gw.redis.zrem(`${p}:{${id}}:calls:ended`, sid);
  }
}

async function allPages<T>(gw: TestGateway, path: string, field: 'entries' | 'calls', limit: number, bearer?: string): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 100; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const url: string = `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await api(gw, bearer ?? ADMIN, 'GET', url);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    out.push(...(r.json[field] as T[]));
    cursor = r.json.nextCursor;
    if (!cursor) return out;
  }
  throw new Error('paging never ended');
}

it('answers the whole ledger and every call across the Redis/PostgreSQL boundary, paged both ways, nothing twice', async () => {
  const gw = await gateway();
  await account(gw);
  const sids: string[] = [];
  for (let i = 0; i < 5; i++) sids.push(await call(gw, i % 2 ? 'acme-bob' : 'acme-alice', 61 + i * 30));
  await archived(gw);
  // Two more settle while the archive is stopped: in Redis only.
  await gw.archiver.stop();
  sids.push(await call(gw, 'acme-alice', 95));
  sids.push(await inbound(gw, 40));
  const open = await placeSoftphoneCall(gw, 'acme-bob'); // active: live state, Redis only
  expect(open.allowed).toBe(true);

  // The whole history as Redis alone answers it today, before anything leaves Redis.
  const ledgerBefore = (await api(gw, ADMIN, 'GET', '/v1/accounts/acme/ledger?limit=500')).json.entries as { id: string; minutes: number }[];
  const callsBefore = (await api(gw, ADMIN, 'GET', '/v1/accounts/acme/calls?limit=500')).json.calls as { callSid: string }[];
  expect(ledgerBefore).toHaveLength(8); // cycle_reset + 7 debits
  expect(callsBefore).toHaveLength(8);

  // The first four entries (cycle_reset and three debits) and the first three calls leave
  // Redis; entries 5–6 are in both, 7–8 only in Redis.
  await trim(gw, ledgerBefore.slice(0, 4).map((e) => e.id), sids.slice(0, 3));
  expect(await gw.redis.xlen(ledgerKey(gw))).toBe(4);

  for (const limit of [1, 2, 3, 500]) {
    const asc = await allPages<{ id: string }>(gw, '/v1/accounts/acme/ledger', 'entries', limit);
    expect(asc).toEqual(ledgerBefore);
    const desc = await allPages<{ id: string }>(gw, '/v1/accounts/acme/ledger?order=desc', 'entries', limit);
    expect(desc).toEqual([...ledgerBefore].reverse());

    const calls = await allPages<{ callSid: string }>(gw, '/v1/accounts/acme/calls', 'calls', limit);
    expect(calls).toEqual(callsBefore);
    const ended = await allPages<{ callSid: string }>(gw, '/v1/accounts/acme/calls?state=ended', 'calls', limit);
    expect(ended).toEqual(callsBefore.filter((c) => c.callSid !== open.callSid));
  }
  const active = await api(gw, ADMIN, 'GET', '/v1/accounts/acme/calls?state=active');
  expect(active.json.calls.map((c: { callSid: string }) => c.callSid)).toEqual([open.callSid]);

  // The ledger still replays to the balance.
  const balance = (await api(gw, ADMIN, 'GET', '/v1/accounts/acme/balance')).json.balance;
  expect(ledgerBefore.reduce((s, e) => s + e.minutes, 0)).toBe(balance);

  // One call, from PostgreSQL once Redis let it go, as it was shown before.
  const one = await api(gw, ADMIN, 'GET', `/v1/accounts/acme/calls/${sids[0]}`);
  expect(one.status).toBe(200);
  expect(one.json).toEqual(callsBefore.find((c) => c.callSid === sids[0]));
  expect(one.headers.get('history-incomplete')).toBeNull();
  expect((await api(gw, ADMIN, 'GET', '/v1/accounts/acme/calls/CAnosuchcall0000')).status).toBe(404);

  // A staff member of the account reads it too; another account's staff does not.
  const alice = await staffToken(gw, 'acme', 'alice');
  expect(await allPages(gw, '/v1/accounts/acme/ledger', 'entries', 3, alice)).toEqual(ledgerBefore);
  await account(gw, 'other');
  const stranger = await staffToken(gw, 'other', 'alice');
  expect((await gw.as(stranger, 'GET', '/v1/accounts/acme/ledger')).status).toBe(403);
  expect((await gw.as(stranger, 'GET', `/v1/accounts/acme/calls/${sids[0]}`)).status).toBe(403);
});

/** Refuses new connections to the gateway's database and ends the open ones; undone by the returned function. */
async function takeBooksAway(gw: TestGateway): Promise<() => Promise<void>> {
  const db = decodeURIComponent(new URL(gw.config.postgres.url).pathname.slice(1));
  const admin = new URL(gw.config.postgres.url);
  admin.pathname = '/postgres';
  await queryBooks(admin.toString(), `ALTER DATABASE "${db}" ALLOW_CONNECTIONS false`);
  await queryBooks(admin.toString(), 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [db]);
  return async () => void (await queryBooks(admin.toString(), `ALTER DATABASE "${db}" ALLOW_CONNECTIONS true`));
}

it('falls back to what Redis holds while PostgreSQL is away, and says so; usage and export answer 503', async () => {
  const gw = await gateway();
  await account(gw);
  const first = await call(gw, 'acme-alice', 61);
  await archived(gw);
  const whole = (await api(gw, ADMIN, 'GET', '/v1/accounts/acme/ledger')).json.entries as { id: string }[];
  await trim(gw, [whole[0]!.id], [first]);

  const giveBack = await takeBooksAway(gw);
  try {
    const ledger = await api(gw, ADMIN, 'GET', '/v1/accounts/acme/ledger');
    expect(ledger.status).toBe(200);
    expect(ledger.headers.get('history-incomplete')).toBe('postgres-unavailable');
    expect(ledger.json.entries).toEqual(whole.slice(1));
    const calls = await api(gw, ADMIN, 'GET', '/v1/accounts/acme/calls');
    expect(calls.status).toBe(200);
    expect(calls.headers.get('history-incomplete')).toBe('postgres-unavailable');
    expect(calls.json.calls).toEqual([]);
    const one = await api(gw, ADMIN, 'GET', `/v1/accounts/acme/calls/${first}`);
    expect(one.status).toBe(404);
    expect(one.headers.get('history-incomplete')).toBe('postgres-unavailable');
    for (const path of ['/v1/accounts/acme/usage', '/v1/accounts/acme/calls/export?from=2020-01-01T00:00:00Z&to=2030-01-01T00:00:00Z']) {
      const r = await api(gw, ADMIN, 'GET', path);
      expect(r.status, path).toBe(503);
      expect(r.json.error.code).toBe('STORE_UNAVAILABLE');
    }
  } finally {
    await giveBack();
  }
  const back = await api(gw, ADMIN, 'GET', '/v1/accounts/acme/ledger');
  expect(back.headers.get('history-incomplete')).toBeNull();
  expect(back.json.entries).toEqual(whole);
});

const DAY = 86_400_000;

/** Writes a settled call straight into the books (as the archiver would have, days ago). */
async function bookCall(gw: TestGateway, c: { sid: string; staffId: string | null; endedAt: number; cycleStart: number; seconds: number; minutes: number; from?: string; to?: string; accountId?: string }) {
  await gw.books.partitions.ensure('calls', [c.endedAt]);
  await queryBooks(
    gw.config.postgres.url,
    `INSERT INTO calls (account_id, call_sid, direction, from_number, to_number, staff_id, placed_at, ended_at, settled_at,
                        reserved_minutes, billable_seconds, billed_minutes, debited_minutes, overage_minutes, cycle_start, ledger_entry_id)
     VALUES ($1, $2, 'outbound', $3, $4, $5, $6, $7, $7, 5, $8, $9, $9, 0, $10, '1-0')`,
    [c.accountId ?? 'acme', c.sid, c.from ?? 'client:acme-alice', c.to ?? '+14155550100', c.staffId, new Date(c.endedAt - c.seconds * 1000), new Date(c.endedAt), c.seconds, c.minutes, new Date(c.cycleStart)],
  );
}

it('sums the usage of the current and the previous cycle by staff member and by day, billed and free, archived or not', async () => {
  const gw = await gateway();
  const anchor = Date.UTC(2026, 0, 10, 9); // cycles start on the 10th at 09:00 UTC
  await account(gw, 'acme', { billingAnchor: new Date(anchor).toISOString() });
  const balance = (await api(gw, ADMIN, 'GET', '/v1/accounts/acme/balance')).json;
  const start = Date.parse(balance.cycleStart);
  const prevStart = new Date(start);
  prevStart.setUTCMonth(prevStart.getUTCMonth() - 1);

  const a1 = await call(gw, 'acme-alice', 125); // 3 min
  await call(gw, 'acme-alice', 20); // free (≤ 30 s)
  const b1 = await call(gw, 'acme-bob', 65); // 2 min
  await inbound(gw, 90); // 2 min, no staff member placed it: unassigned
  await archived(gw);
  const entries = (await api(gw, ADMIN, 'GET', '/v1/accounts/acme/ledger?limit=500')).json.entries as { id: string }[];
  await trim(gw, entries.slice(0, 3).map((e) => e.id), [a1, b1]);
  await gw.archiver.stop();
  await call(gw, 'acme-bob', 31); // 1 min, settled, not archived yet

  // Earlier in this cycle (two days after it started) and in the previous cycle, from the books.
  const earlier = start + 2 * DAY + 3600_000;
  await bookCall(gw, { sid: 'CAhistory0001', staffId: 'alice', endedAt: earlier, cycleStart: start, seconds: 600, minutes: 10 });
  await bookCall(gw, { sid: 'CAhistory0002', staffId: null, endedAt: earlier + 60_000, cycleStart: start, seconds: 10, minutes: 0 });
  await bookCall(gw, { sid: 'CAhistory0003', staffId: 'bob', endedAt: start - DAY, cycleStart: prevStart.getTime(), seconds: 300, minutes: 5 });
  // Ended in the last second of the previous cycle, booked in this one (R16): counts here.
  await bookCall(gw, { sid: 'CAhistory0004', staffId: 'bob', endedAt: start - 500, cycleStart: start, seconds: 120, minutes: 2 });
  // Another account's call is nobody's business here.
  await bookCall(gw, { sid: 'CAhistory0005', staffId: 'alice', endedAt: earlier, cycleStart: start, seconds: 600, minutes: 10, accountId: 'other' });

  const byStaff = await api(gw, ADMIN, 'GET', '/v1/accounts/acme/usage?cycle=current&groupBy=staff');
  expect(byStaff.status, JSON.stringify(byStaff.json)).toBe(200);
  expect(byStaff.json).toEqual({
    cycleStart: balance.cycleStart,
    cycleEnd: balance.cycleEnd,
    groupBy: 'staff',
    groups: [
      { key: 'alice', calls: 3, billableSeconds: 125 + 20 + 600, billedMinutes: 3 + 0 + 10 },
      { key: 'bob', calls: 3, billableSeconds: 65 + 31 + 120, billedMinutes: 2 + 1 + 2 },
      { key: 'unassigned', calls: 2, billableSeconds: 90 + 10, billedMinutes: 2 },
    ],
    totals: { calls: 8, billableSeconds: 1061, billedMinutes: 20 },
  });

  const today = new Date().toISOString().slice(0, 10);
  const byDay = await api(gw, ADMIN, 'GET', '/v1/accounts/acme/usage?groupBy=day'); // cycle: current by default
  expect(byDay.status).toBe(200);
  const days = [
    { key: new Date(start - 500).toISOString().slice(0, 10), calls: 1, billableSeconds: 120, billedMinutes: 2 },
    { key: new Date(earlier).toISOString().slice(0, 10), calls: 2, billableSeconds: 610, billedMinutes: 10 },
    { key: today, calls: 5, billableSeconds: 125 + 20 + 65 + 90 + 31, billedMinutes: 8 },
  ];
  expect(byDay.json.groups).toEqual(days);
  expect(byDay.json.totals).toEqual(byStaff.json.totals);

  const previous = await api(gw, ADMIN, 'GET', '/v1/accounts/acme/usage?cycle=previous&groupBy=staff');
  expect(previous.json).toEqual({
    cycleStart: prevStart.toISOString(),
    cycleEnd: balance.cycleStart,
    groupBy: 'staff',
    groups: [{ key: 'bob', calls: 1, billableSeconds: 300, billedMinutes: 5 }],
    totals: { calls: 1, billableSeconds: 300, billedMinutes: 5 },
  });

  // Bad input names the field; only the admin and the account's own staff may ask.
  const bad = await api(gw, ADMIN, 'GET', '/v1/accounts/acme/usage?groupBy=week');
  expect(bad.status).toBe(400);
  expect(bad.json.error.message).toMatch(/groupBy/);
  expect((await api(gw, ADMIN, 'GET', '/v1/accounts/acme/usage?cycle=next')).json.error.message).toMatch(/cycle/);
  expect((await api(gw, ADMIN, 'GET', '/v1/accounts/nobody/usage')).status).toBe(404);
  const bob = await staffToken(gw, 'acme', 'bob');
  expect((await gw.as(bob, 'GET', '/v1/accounts/acme/usage?groupBy=staff')).json).toEqual(byStaff.json);
  await account(gw, 'other');
  const stranger = await staffToken(gw, 'other', 'alice');
  expect((await gw.as(stranger, 'GET', '/v1/accounts/acme/usage')).status).toBe(403);
});

/** RFC 4180 parsing: quoted fields may hold commas, doubled quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(field), (field = '');
    else if (ch === '\r' && text[i + 1] === '\n') row.push(field), rows.push(row), (row = []), (field = ''), i++;
    else field += ch;
  }
  expect(field === '' && row.length === 0, 'the last line ends with CRLF').toBe(true);
  return rows;
}

const HEADER = 'callSid,direction,from,to,staffId,startedAt,endedAt,billableSeconds,billedMinutes,cycleStart';

it('exports the calls that ended in [from, to) as RFC 4180 CSV, quoting what needs it', async () => {
  const gw = await gateway();
  await account(gw);
  const cycleStart = Date.parse((await api(gw, ADMIN, 'GET', '/v1/accounts/acme/balance')).json.cycleStart);
  const t0 = Date.parse('2026-03-01T00:00:00Z');
  const t1 = Date.parse('2026-03-02T00:00:00Z');
  await bookCall(gw, { sid: 'CAbefore', staffId: 'alice', endedAt: t0 - 1, cycleStart, seconds: 61, minutes: 2 });
  await bookCall(gw, { sid: 'CAatfrom', staffId: 'alice', endedAt: t0, cycleStart, seconds: 61, minutes: 2, to: '+14155550101' });
  await bookCall(gw, { sid: 'CAquoted', staffId: null, endedAt: t0 + 3600_000, cycleStart, seconds: 45, minutes: 1, from: 'Acme, "Sales"\r\nline two', to: NUMBER });
  await bookCall(gw, { sid: 'CAbeforeto', staffId: 'bob', endedAt: t1 - 1, cycleStart, seconds: 20, minutes: 0 });
  await bookCall(gw, { sid: 'CAatto', staffId: 'bob', endedAt: t1, cycleStart, seconds: 20, minutes: 0 });

  const res = await fetch(`${gw.url}/v1/accounts/acme/calls/export?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00.000Z`, {
    headers: { authorization: `Bearer ${(await staffToken(gw, 'acme', 'bob'))}` },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
  const text = await res.text();
  expect(text.startsWith(`${HEADER}\r\n`)).toBe(true);
  expect(text).toContain('"Acme, ""Sales""\r\nline two"');
  const rows = parseCsv(text);
  expect(rows[0]!.join(',')).toBe(HEADER);
  expect(rows.slice(1)).toEqual([
    ['CAatfrom', 'outbound', 'client:acme-alice', '+14155550101', 'alice', new Date(t0 - 61_000).toISOString(), new Date(t0).toISOString(), '61', '2', new Date(cycleStart).toISOString()],
    ['CAquoted', 'outbound', 'Acme, "Sales"\r\nline two', NUMBER, '', new Date(t0 + 3600_000 - 45_000).toISOString(), new Date(t0 + 3600_000).toISOString(), '45', '1', new Date(cycleStart).toISOString()],
    ['CAbeforeto', 'outbound', 'client:acme-alice', '+14155550100', 'bob', new Date(t1 - 1 - 20_000).toISOString(), new Date(t1 - 1).toISOString(), '20', '0', new Date(cycleStart).toISOString()],
  ]);

  // A call settled a moment ago and not archived yet is exported too, its caller's name quoted.
  await gw.archiver.stop();
  const sid = await inbound(gw, 75, '"Bob, the builder"');
  const now = await fetch(`${gw.url}/v1/accounts/acme/calls/export?from=${new Date(Date.now() - 3600_000).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}`, {
    headers: { authorization: `Bearer ${(await staffToken(gw, 'acme'))}` },
  });
  const live = parseCsv(await now.text());
  expect(live).toHaveLength(2);
  expect(live[1]!.slice(0, 5)).toEqual([sid, 'inbound', '"Bob, the builder"', NUMBER, '']);
  expect(live[1]!.slice(7, 9)).toEqual(['75', '2']);

  // Bad windows name the field and change nothing.
  for (const [q, field] of [
    ['to=2026-03-02T00:00:00Z', 'from'],
    ['from=2026-03-01T00:00:00Z', 'to'],
    ['from=yesterday&to=2026-03-02T00:00:00Z', 'from'],
    ['from=2026-03-01T00:00:00Z&to=2026-13-02', 'to'],
    ['from=2026-03-02T00:00:00Z&to=2026-03-02T00:00:00Z', 'to'],
    ['from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z', 'to'],
  ] as const) {
    const r = await api(gw, ADMIN, 'GET', `/v1/accounts/acme/calls/export?${q}`);
    expect(r.status, q).toBe(400);
    expect(r.json.error.code).toBe('VALIDATION_FAILED');
    expect(r.json.error.message.startsWith(`${field}:`), `${q}: ${r.json.error.message}`).toBe(true);
  }
  await account(gw, 'other');
  const stranger = await staffToken(gw, 'other', 'alice');
  expect((await gw.as(stranger, 'GET', '/v1/accounts/acme/calls/export?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z')).status).toBe(403);
  expect((await api(gw, ADMIN, 'GET', '/v1/accounts/nobody/calls/export?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z')).status).toBe(404);
});

it('streams a large export: the first rows leave before the last ones are read from PostgreSQL', async () => {
  const gw = await gateway();
  await account(gw);
  const t0 = Date.parse('2026-04-01T00:00:00Z');
  const ROWS = 5000;
  await gw.books.partitions.ensure('calls', [t0]);
  // ~2 KB a row (a long "to"), ~10 MB in all: more than the sockets between us can hold,
  // so the gateway must wait for this reader rather than read everything first.
  await queryBooks(
    gw.config.postgres.url,
    `INSERT INTO calls (account_id, call_sid, direction, from_number, to_number, staff_id, placed_at, ended_at, settled_at,
                        reserved_minutes, billable_seconds, billed_minutes, debited_minutes, overage_minutes, cycle_start, ledger_entry_id)
     SELECT 'acme', 'CAbulk' || lpad(i::text, 6, '0'), 'outbound', 'client:acme-alice', repeat('9', 2000), 'alice',
            $1::timestamptz + (i || ' seconds')::interval, $1::timestamptz + (i || ' seconds')::interval + interval '1 minute',
            $1::timestamptz + (i || ' seconds')::interval + interval '1 minute', 5, 60, 1, 1, 0, $1, '1-0'
       FROM generate_series(1, $2::int) AS i`,
    [new Date(t0), ROWS],
  );

  const url = new URL(`${gw.url}/v1/accounts/acme/calls/export?from=2026-04-01T00:00:00Z&to=2026-04-02T00:00:00Z`);
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(url, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } }, resolve);
    req.on('error', reject);
    req.end();
  });
  expect(res.statusCode).toBe(200);
  const chunks: Buffer[] = [];
  const first = await new Promise<Buffer>((resolve) => res.once('data', resolve));
  chunks.push(first);
  res.pause();
  expect(first.toString().startsWith(`${HEADER}\r\n`)).toBe(true);
  // The reader holds back; meanwhile a call ending after every other one is archived.
  await new Promise((r) => setTimeout(r, 300));
  await queryBooks(
    gw.config.postgres.url,
    `INSERT INTO calls (account_id, call_sid, direction, from_number, to_number, staff_id, placed_at, ended_at, settled_at,
                        reserved_minutes, billable_seconds, billed_minutes, debited_minutes, overage_minutes, cycle_start, ledger_entry_id)
     VALUES ('acme', 'CAlatecomer', 'outbound', 'client:acme-bob', '+14155550100', 'bob', $1, $1, $1, 5, 60, 1, 1, 0, $2, '1-0')`,
    [new Date(t0 + 23 * 3600_000), new Date(t0)],
  );
  res.on('data', (c: Buffer) => chunks.push(c));
  res.resume();
  await new Promise((r) => res.on('end', r));
  const lines = Buffer.concat(chunks).toString().split('\r\n');
  expect(lines.pop()).toBe('');
  expect(lines).toHaveLength(1 + ROWS + 1);
  expect(lines[1]!.startsWith('CAbulk000001,')).toBe(true);
  // Read after the first bytes were sent: the rows were fetched as the reader took them.
  expect(lines[ROWS + 1]!.startsWith('CAlatecomer,')).toBe(true);
  expect(new Set(lines).size).toBe(lines.length);
});

it('pages from cursors at the ends of the id space; a bad cursor is a 400', async () => {
  const gw = await gateway();
  await account(gw);
  expect((await api(gw, 'nope', 'GET', '/v1/accounts/acme/usage')).status).toBe(401);
  // Cursors past what PostgreSQL's bigint holds still page (nothing after, everything before).
  for (const cursor of ['18446744073709551615-18446744073709551615', '9223372036854775808-0', '1-18446744073709551615']) {
    const r = await api(gw, ADMIN, 'GET', `/v1/accounts/acme/ledger?cursor=${cursor}&order=asc`);
    expect(r.status, cursor).toBe(200);
    expect(r.json.entries, cursor).toHaveLength(cursor.startsWith('1-') ? 1 : 0);
  }
  const d = await api(gw, ADMIN, 'GET', '/v1/accounts/acme/ledger?cursor=18446744073709551615-0&order=desc&limit=500');
  expect(d.status).toBe(200);
  expect(d.json.entries).toHaveLength(1);
  expect((await api(gw, ADMIN, 'GET', '/v1/accounts/acme/calls?cursor=nope')).status).toBe(400);
});
