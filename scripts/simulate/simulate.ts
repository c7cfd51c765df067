// Plays a day of calls against a running gateway (signed webhooks only, no Twilio account)
// and checks the books afterwards: every allowed call debited once with R4's minutes.
import { randomBytes } from 'node:crypto';
import type { SimulateArgs } from './args.js';
import { GatewayClient, ok } from './gateway-client.js';
import { drawCall, rng, type SimCall, type Staff } from './scenario.js';
import { callbackPath, readTwiml } from './twiml-urls.js';

export interface SimulationResult {
  calls: number;
  placed: number;
  denied: number;
  expectedMinutes: number;
  debitedMinutes: number;
  overageMinutes: number;
  ok: boolean;
  /** Why ok is false, one line each (not part of the stdout JSON). */
  problems: string[];
  accountId: string;
}

export interface Progress {
  (done: number, total: number, placed: number, denied: number): void;
}

async function ensureAccount(gw: GatewayClient, args: SimulateArgs): Promise<{ accountId: string; staff: Staff[]; number: string }> {
  if (args.account) {
    const path = { id: args.account };
    const acct = await ok(`account ${args.account}`, gw.api.GET('/v1/accounts/{id}', { params: { path } }));
    const staff = await ok(`account ${args.account}'s staff`, gw.api.GET('/v1/accounts/{id}/staff', { params: { path } }));
    const members: Staff[] = staff.staff.map((s) => ({ identity: s.identity }));
    const number: string | undefined = acct.phoneNumbers[0];
    if (members.length === 0 || !number) throw new Error(`account ${args.account} needs at least one staff softphone and one number`);
    return { accountId: args.account, staff: members, number };
  }
  const id = `sim-${randomBytes(4).toString('hex')}`;
  const staff = ['ana', 'ben', 'cy'].map((s) => ({ id: s, email: `${s}@${id}.example`, identity: `${id}_${s}` }));
  const number = `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
  await ok('could not create an account', gw.api.POST('/v1/accounts', { body: { id, name: `Simulated ${id}`, monthlyMinutes: args.minutes, staff, phoneNumbers: [number] } }));
  return { accountId: id, staff, number };
}

export async function runSimulation(args: SimulateArgs, progress: Progress = () => {}): Promise<SimulationResult> {
  const gw = new GatewayClient(args.url, args.publicBaseUrl, args.twilioAuthToken, args.adminKey);
  const { accountId, staff, number } = await ensureAccount(gw, args);
  const rules = { minBillableSeconds: args.minBillableSeconds, billingIncrementSeconds: args.billingIncrementSeconds };
  const random = rng(args.seed);
  const problems: string[] = [];
  const allowed: SimCall[] = [];
  let started = 0;
  let done = 0;
  let denied = 0;
  const startedAt = Date.now();

  const one = async (call: SimCall) => {
    const v = await gw.twilio('/twilio/voice', call.voice);
    if (v.status !== 200) problems.push(`${call.callSid}: /twilio/voice answered ${v.status}`);
    const twiml = readTwiml(v.text);
    if (twiml.kind === 'dial') {
      allowed.push(call);
      // Each signal where Twilio sends it: the URLs the TwiML named, or the TwiML App's.
      for (const s of call.signals) {
        const r = await gw.twilio(callbackPath(gw.publicBaseUrl, twiml, s), s);
        if (r.status !== 200) problems.push(`${call.callSid}: /twilio/status answered ${r.status} ${r.text.slice(0, 120)}`);
      }
    } else {
      denied += 1;
    }
    done += 1;
    progress(done, args.calls, allowed.length, denied);
  };

  // C workers; with --rate, starts are spaced so no more than R begin per second.
  const worker = async () => {
    while (started < args.calls) {
      const n = started++;
      if (args.rate > 0) {
        const due = startedAt + (n * 1000) / args.rate;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      await one(drawCall(random, { staff, number, rules, at: Date.now() }));
    }
  };
  await Promise.all(Array.from({ length: Math.min(args.concurrency, args.calls) }, worker));

  // The books: one call_debit per allowed call, with R4's minutes.
  const debits = new Map<string, { billed: number; overage: number; count: number }>();
  const ledgerPage = (cursor: string | null) =>
    ok('ledger', gw.api.GET('/v1/accounts/{id}/ledger', { params: { path: { id: accountId }, query: { limit: 500, ...(cursor ? { cursor } : {}) } } }));
  let cursor: string | null = null;
  do {
    const page = await ledgerPage(cursor);
    for (const e of page.entries as ((typeof page.entries)[number] & { billedMinutes: number; overageMinutes: number })[]) {
      if (e.kind !== 'call_debit') continue;
      const d = debits.get(e.ref) ?? { billed: 0, overage: 0, count: 0 };
      d.billed += e.billedMinutes;
      d.overage += e.overageMinutes;
      d.count += 1;
      debits.set(e.ref, d);
    }
    cursor = page.nextCursor;
  } while (cursor);

  let expectedMinutes = 0;
  let debitedMinutes = 0;
  let overageMinutes = 0;
  for (const c of allowed) {
    expectedMinutes += c.expectedMinutes;
    const d = debits.get(c.callSid);
    if (!d) {
      problems.push(`${c.callSid}: no call_debit`);
      continue;
    }
    debitedMinutes += d.billed;
    overageMinutes += d.overage;
    if (d.count !== 1) problems.push(`${c.callSid}: ${d.count} call_debit entries`);
    if (d.billed !== c.expectedMinutes) problems.push(`${c.callSid}: billed ${d.billed}, expected ${c.expectedMinutes} (talk ${c.talkSeconds} s)`);
  }
  return {
    calls: args.calls,
    placed: allowed.length,
    denied,
    expectedMinutes,
    debitedMinutes,
    overageMinutes,
    ok: problems.length === 0,
    problems,
    accountId,
  };
}
