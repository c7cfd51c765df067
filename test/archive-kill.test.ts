// Issue #17 §3: an instance killed (SIGKILL) while it archives loses nothing and doubles
// nothing — what it had claimed is due again when its lease ends, what it had committed is
// written again as nothing — and another instance finishes the archive.
import { expect, it } from 'vitest';
import { waitFor } from './support/billing.js';
import { answeredCallSignals } from './support/calls.js';
import { apiRequest, callSid, PUBLIC_BASE_URL, startTestGateway, TEST_ADMIN_KEY, TEST_AUTH_TOKEN, uniquePrefix } from './support/gateway.js';
import { startGatewayProcess } from './support/gateway-process.js';
import { queryBooks, testDatabaseUrl } from './support/postgres.js';
import { signForm } from './support/twilio-sign.js';

async function post(url: string, path: string, params: Record<string, string>): Promise<number> {
  const signed = signForm(TEST_AUTH_TOKEN, PUBLIC_BASE_URL + path, params);
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signed.signature },
    body: signed.body,
  });
  await res.text();
  return res.status;
}

it('an instance SIGKILLed mid-archive: another finishes it, every entry and call once', async () => {
  const prefix = uniquePrefix('arch-kill');
  const a = await startGatewayProcess(prefix, { DATABASE_URL: testDatabaseUrl(prefix) });
  const accounts = ['k1', 'k2', 'k3'];
  for (const id of accounts) {
    const r = await apiRequest(a.url, TEST_ADMIN_KEY, 'POST', '/v1/accounts', {
      id, name: id, monthlyMinutes: 100_000, staff: [{ id: 'alice', email: `alice@${id}.test`, identity: `${prefix}-${id}` }],
    });
    expect(r.status).toBe(201);
  }
  // Calls settle on A while it archives them; A dies in the middle of that.
  const settled: string[] = [];
  let killed = false;
  const oneCall = async (i: number) => {
    const id = accounts[i % 3]!;
    const sid = callSid();
    const voice = await post(a.url, '/twilio/voice', { AccountSid: 'AC' + '0'.repeat(32), CallSid: sid, CallStatus: 'ringing', Direction: 'inbound', From: `client:${prefix}-${id}`, To: '+14155550100' });
    if (voice !== 200) return;
    for (const s of answeredCallSignals(sid, 31 + i)) if ((await post(a.url, '/twilio/status', s)) !== 200) return;
    settled.push(sid);
  };
  const load = (async () => {
    for (let i = 0; i < 400 && !killed; i += 8) await Promise.all(Array.from({ length: 8 }, (_, j) => oneCall(i + j).catch(() => {})));
  })();
  await waitFor(async () => {
    const [r] = await queryBooks<{ n: number }>(testDatabaseUrl(prefix), 'SELECT count(*)::int AS n FROM calls');
    return r!.n >= 20 ? true : null;
  }, 20_000, 20);
  a.child.kill('SIGKILL');
  killed = true;
  await a.exited;
  await load;

  // Another instance (its lease-free claims, its start-up sweep) finishes the archive.
  const b = await startTestGateway({ prefix });
  try {
    for (const id of accounts) {
      const ids = (await b.redis.xrange(`${prefix}:{${id}}:ledger`, '-', '+')).map(([x]) => x);
      await waitFor(async () => {
        const rows = await queryBooks<{ entry_id: string }>(b.config.postgres.url, 'SELECT entry_id FROM ledger_entries WHERE account_id = $1 ORDER BY id_ms, id_seq', [id]);
        return rows.length === ids.length ? rows : null;
      }, 30_000, 200).then((rows) => expect(rows.map((r) => r.entry_id)).toEqual(ids));
    }
    const calls = await queryBooks<{ call_sid: string }>(b.config.postgres.url, 'SELECT call_sid FROM calls');
    const archived = new Set(calls.map((c) => c.call_sid));
    expect(archived.size).toBe(calls.length); // none twice
    for (const sid of settled) expect(archived.has(sid), sid).toBe(true); // none missing
  } finally {
    await b.stop();
  }
}, 120_000);
