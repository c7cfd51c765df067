/**
 * Phase `lifecycle` (the cost phase, issue #12): --lifecycle-calls full call lifecycles —
 * the voice webhook, the dialled leg's 4 status callbacks (initiated, ringing,
 * in-progress, completed), the <Dial action> and the parent's own completed callback — through a gateway of its own on a
 * private redis-server, so that INFO commandstats and INFO cpu count this gateway's work
 * alone. Not a throughput figure: 20 calls at a time, bodies signed on the fly (in this
 * process, outside what is counted). Then 50 more calls under MONITOR, which tells the
 * commands the gateway sent (its round trips) from those its scripts ran. Every answer
 * must be right and every call debited 2 minutes once, nothing left reserved.
 */
import { Redis } from 'ioredis';
import { join } from 'node:path';
import { callCost, commandsSent, costSnapshot, type CallCost } from '../lib/cost.js';
import { gatewayEnv } from '../lib/identity.js';
import { startPrivateRedis, startServer, stopChild, type Child } from '../lib/processes.js';
import { ROOT, fmtInt, pool, sleep } from '../lib/util.js';
import { readTwiml } from '../../simulate/twiml-urls.js';
import { dialActionBody, legStatusBody, nextDialSid, parentCompletedBody, publicPath, voiceBody, type SignedBody } from './bodies.js';
import { ID, MINUTES_PER_CALL, createBenchAccount, log, opts, shared } from './context.js';
import { balanceNow } from './books.js';

const LEG_STATUSES = ['initiated', 'ringing', 'in-progress', 'completed'] as const;
const WARMUP_CALLS = 50;
/** Calls watched with MONITOR (after the counted ones, not in their figures). */
const MONITORED_CALLS = 50;

export interface LifecycleOutcome {
  cost: CallCost;
  redisLabel: string;
  calls: number;
  requests: number;
  wrongAnswers: number;
  firstWrong: string | null;
  reserved: number;
  activeCalls: number;
  debit: number;
  expectedDebit: number;
  ok: boolean;
}

async function post(port: number, b: SignedBody): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${b.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': b.signature },
    body: b.body,
  });
  return { status: res.status, text: await res.text() };
}

export type AnswerCheck = (what: string, r: { status: number; text: string }, ok: boolean) => void;

/** One full call lifecycle, as Twilio sends it: the voice webhook, the dialled leg's four
 *  status callbacks (to the noun's statusCallback URL the TwiML named), the <Dial action>
 *  (to its action URL) and the parent's completion (to the TwiML App's Status Callback);
 *  each answer checked. */
export async function playCall(port: number, expect: AnswerCheck): Promise<void> {
  const voice = voiceBody();
  const v = await post(port, voice);
  const twiml = v.status === 200 ? readTwiml(v.text) : null;
  expect('voice', v, twiml?.kind === 'dial');
  if (twiml?.kind !== 'dial') return;
  const legSid = nextDialSid();
  for (const [seq, st] of LEG_STATUSES.entries()) {
    const r = await post(port, legStatusBody(voice.sid, legSid, seq, st, publicPath(twiml.statusCallback)));
    expect(`leg ${st}`, r, r.status === 200 && r.text.includes('<Response'));
  }
  const a = await post(port, dialActionBody(voice.sid, publicPath(twiml.action), legSid));
  expect('<Dial action>', a, a.status === 200 && a.text.includes('<Response'));
  const p = await post(port, parentCompletedBody(voice.sid));
  expect('parent completed', p, p.status === 200 && p.text.includes('<Response'));
}

/** `fallbackGw`: the main gateway, used (on the shared Redis) when no redis-server can be started. */
export async function lifecyclePhase(fallbackGw: Child): Promise<LifecycleOutcome> {
  const priv = await startPrivateRedis(log);
  let gw = fallbackGw;
  let redis: Redis = shared.redis!;
  const redisLabel = priv ? 'a private redis-server serving this gateway alone' : 'WARNING: the shared Redis (redis-server not found): other work on it counts too';
  if (priv) {
    const url = `redis://127.0.0.1:${priv.port}`;
    gw = await startServer({ name: 'gateway (lifecycle)', script: join(ROOT, 'dist', 'main.js'), env: { ...gatewayEnv(ID), REDIS_URL: url }, readyPath: '/readyz', log });
    redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    redis.on('error', () => {});
    await redis.connect();
    // The same account, identity and number as the main gateway's: this Redis is empty.
    await createBenchAccount(gw.port);
  }
  // Without a private Redis: the main gateway's account, whose books were checked already.
  const before = await balanceNow(gw.port);

  let requests = 0;
  let wrongAnswers = 0;
  let firstWrong: string | null = null;
  const expect = (what: string, r: { status: number; text: string }, ok: boolean) => {
    requests++;
    if (ok) return;
    wrongAnswers++;
    firstWrong ??= `${what}: ${r.status} ${r.text.slice(0, 200)}`;
  };
  const oneCall = () => playCall(gw.port, expect);

  log(`lifecycle: ${WARMUP_CALLS} warm-up calls, then ${fmtInt(opts.lifecycleCalls)} counted`);
  await pool(Array.from({ length: WARMUP_CALLS }), 20, oneCall);
  const a = await costSnapshot(redis, gw.proc.pid);
  requests = 0;
  await pool(Array.from({ length: opts.lifecycleCalls }), 20, oneCall);
  const b = await costSnapshot(redis, gw.proc.pid);
  const cost = callCost(a, b, opts.lifecycleCalls, requests);
  // Which commands the gateway sends and which its scripts run: MONITOR marks the latter
  // "lua". Only on the private server, where every command is this gateway's.
  if (priv) cost.sent = await commandsSent(redis, () => pool(Array.from({ length: MONITORED_CALLS }), 20, oneCall), MONITORED_CALLS);

  await sleep(200);
  const after = await balanceNow(gw.port);
  const calls = WARMUP_CALLS + opts.lifecycleCalls + (priv ? MONITORED_CALLS : 0);
  const expectedDebit = calls * MINUTES_PER_CALL;
  const debit = before.balance - after.balance;
  if (priv) {
    await stopChild(gw);
    redis.disconnect();
    await stopChild(priv);
  }
  const ok = wrongAnswers === 0 && after.reserved === 0 && after.activeCalls === 0 && debit === expectedDebit;
  return { cost, redisLabel, calls, requests, wrongAnswers, firstWrong, reserved: after.reserved, activeCalls: after.activeCalls, debit, expectedDebit, ok };
}
