// Phase `auth`: socket authorizations (see main.ts), then the same load against the bare
// ceiling (ceiling-server.mjs) in its own process, for the ratio issue #12 asks for.
import { join } from 'node:path';
import WebSocket from 'ws';
import { cpuUsPer } from '../lib/cost.js';
import { cpuSample, cpuShare } from '../lib/cpu.js';
import { Hist } from '../lib/histogram.mjs';
import { startServer, stopChild } from '../lib/processes.js';
import { ROOT, fmtInt, hrMs, pool, r1, r2, sleep } from '../lib/util.js';
import { AUTHORIZATION_TTL_SECONDS, MONTHLY_MINUTES, PREFIX, RUN, check, cpuRows, log, notes, opts, rows, shared } from './context.js';
import { createAccount, isBalance, mustApi, openWs, staffToken, startGateway, trackWs, wsBase } from './gateway.js';

interface LoadSocket {
  idx: number;
  ws: WebSocket;
  inflight: Map<string, number>;
  seq: number;
  gotSnapshot: boolean;
}

const TO = '+14155550100';

/** The closed-loop (or paced) authorize load of this phase, against a gateway or the bare
 *  ceiling: the same frames, the same sockets and in-flight bound, the same window. */
function createLoad() {
  const state = {
    running: true,
    mStart: Infinity,
    mEnd: Infinity,
    sent: 0,
    replies: 0,
    authorized: 0,
    denied: 0,
    errors: 0,
    other: 0,
    windowReplies: 0,
    windowBalanceFrames: 0,
    balanceFrames: 0,
    tokens: 0,
    firstBad: '' as string,
  };
  const hist = new Hist();
  const paced = opts.authRate > 0;
  const sendOne = (s: LoadSocket) => {
    const id = `${RUN}.${s.idx}.${++s.seq}`;
    s.inflight.set(id, hrMs());
    state.sent++;
    s.ws.send(`{"type":"authorize","requestId":"${id}","to":"${TO}"}`);
  };
  const onMessage = (s: LoadSocket, data: Buffer) => {
    const t = hrMs();
    if (isBalance(data)) {
      s.gotSnapshot = true;
      state.balanceFrames++;
      if (t >= state.mStart && t <= state.mEnd) state.windowBalanceFrames++;
      return;
    }
    let m: { type?: string; requestId?: string; code?: string };
    try {
      m = JSON.parse(data.toString());
    } catch {
      state.other++;
      return;
    }
    const sentAt = m.requestId === undefined ? undefined : s.inflight.get(m.requestId);
    if (sentAt === undefined) {
      state.other++;
      state.firstBad ||= data.toString().slice(0, 200);
      return;
    }
    s.inflight.delete(m.requestId!);
    state.replies++;
    if (m.type === 'authorized') state.authorized++;
    else {
      if (m.type === 'denied') state.denied++;
      else state.errors++;
      state.firstBad ||= data.toString().slice(0, 200);
    }
    if (t >= state.mStart && t <= state.mEnd) {
      state.windowReplies++;
      if (sentAt >= state.mStart) hist.recordMs(t - sentAt);
    }
    if (state.running && !paced) sendOne(s);
  };

  /** Warm-up, then the measured window; then waits for what is in flight. */
  async function drive(label: string, sockets: LoadSocket[], pid: number | undefined, times = { warmupS: opts.warmup, durationS: opts.duration }) {
    const t0 = hrMs();
    let ticker: NodeJS.Timeout | null = null;
    if (paced) {
      // Token bucket over all sockets, still bounded by --inflight per socket.
      let last = t0;
      let rr = 0;
      ticker = setInterval(() => {
        const now = hrMs();
        state.tokens = Math.min(state.tokens + ((now - last) * opts.authRate) / 1000, opts.authRate / 50 + 1);
        last = now;
        let idle = 0;
        while (state.tokens >= 1 && idle < sockets.length) {
          const s = sockets[rr++ % sockets.length]!;
          if (s.inflight.size >= opts.inflight) {
            idle++;
            continue;
          }
          idle = 0;
          state.tokens -= 1;
          sendOne(s);
        }
      }, 1);
    } else {
      for (const s of sockets) for (let k = 0; k < opts.inflight; k++) sendOne(s);
    }
    log(`${label}: warm-up ${times.warmupS} s, then measuring ${times.durationS} s`);
    await sleep(times.warmupS * 1000);
    const cpuA = await cpuSample(shared.redis, pid);
    state.mStart = hrMs();
    await sleep(times.durationS * 1000);
    state.mEnd = hrMs();
    const cpuB = await cpuSample(shared.redis, pid);
    state.running = false;
    if (ticker) clearInterval(ticker);
    const drainUntil = hrMs() + 5_000;
    while (sockets.some((s) => s.inflight.size > 0) && hrMs() < drainUntil) await sleep(20);
    const windowS = (state.mEnd - state.mStart) / 1000;
    return {
      unanswered: sockets.reduce((a, s) => a + s.inflight.size, 0),
      elapsedS: (hrMs() - t0) / 1000,
      windowS,
      rps: state.windowReplies / windowS,
      cpu: cpuShare(cpuA, cpuB),
      cpuUsPerAuth: cpuUsPer(cpuA.server === null || cpuB.server === null ? null : cpuB.server - cpuA.server, state.windowReplies),
    };
  }
  return { state, hist, paced, onMessage, drive };
}

/** The bare ceiling (ceiling-server.mjs) in its own process, with the phase's sockets
 *  open on it; their replies go to whichever load `target` holds. */
async function openCeiling(target: { load: ReturnType<typeof createLoad> }) {
  const srv = await startServer({
    name: 'ws bare ceiling',
    script: join(ROOT, 'scripts', 'bench', 'ws', 'ceiling-server.mjs'),
    env: { REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', REDIS_PREFIX: PREFIX },
    readyPath: '/healthz',
    log,
  });
  const sockets: LoadSocket[] = [];
  await pool(Array.from({ length: opts.sockets }, (_, i) => i), 50, async (i) => {
    const s: LoadSocket = { idx: i, ws: null as unknown as WebSocket, inflight: new Map(), seq: 0, gotSnapshot: true };
    s.ws = trackWs(await openWs(wsBase(srv.port), {}, (data) => target.load.onMessage(s, data)));
    sockets[i] = s;
  });
  return { srv, sockets };
}

/** The same load against the bare ceiling, after the gateway's run. */
async function ceilingRun() {
  const target = { load: createLoad() };
  const { srv, sockets } = await openCeiling(target);
  const load = target.load;
  const run = await load.drive('ceiling', sockets, srv.proc.pid);
  for (const s of sockets) s.ws.close();
  await stopChild(srv);
  check(load.state.errors === 0 && load.state.other === 0 && run.unanswered === 0, 'auth ceiling: every reply answered');
  return { ...run, latency: load.hist.summary() };
}

const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length === 0 ? 0 : v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
};

/** --auth-rounds N (session 25): the gateway's sockets and the ceiling's take turns at the
 *  load in slices of --auth-slice seconds, gateway first in even rounds and ceiling first
 *  in odd ones, so the machine's drift falls on both; the ratio is the median of each
 *  round's gateway ÷ ceiling. */
async function alternatedRuns(gw: { sockets: LoadSocket[]; target: { load: ReturnType<typeof createLoad> }; pid: number | undefined }) {
  const ceilTarget = { load: createLoad() };
  const ceil = await openCeiling(ceilTarget);
  const sides = {
    gateway: { sockets: gw.sockets, target: gw.target, pid: gw.pid },
    ceiling: { sockets: ceil.sockets, target: ceilTarget, pid: ceil.srv.proc.pid },
  };
  const slice = async (side: 'gateway' | 'ceiling', warmupS: number) => {
    const sd = sides[side];
    const load = createLoad();
    sd.target.load = load;
    const r = await load.drive(`auth ${side} slice`, sd.sockets, sd.pid, { warmupS, durationS: opts.authSlice });
    check(load.state.errors === 0 && load.state.other === 0 && load.state.denied === 0 && r.unanswered === 0, `auth alternated, ${side}: every reply authorized`);
    return r;
  };
  await slice('ceiling', opts.warmup); // the gateway's sockets have run already; the ceiling's warm up
  const rounds: { gateway: Awaited<ReturnType<typeof slice>>; ceiling: Awaited<ReturnType<typeof slice>> }[] = [];
  for (let k = 0; k < opts.authRounds; k++) {
    const order = k % 2 === 0 ? (['gateway', 'ceiling'] as const) : (['ceiling', 'gateway'] as const);
    const got: Partial<(typeof rounds)[number]> = {};
    for (const side of order) got[side] = await slice(side, 0);
    rounds.push(got as (typeof rounds)[number]);
    log(`auth alternated, round ${k + 1}: gateway ${fmtInt(got.gateway!.rps)}/s, ceiling ${fmtInt(got.ceiling!.rps)}/s`);
  }
  for (const s of ceil.sockets) s.ws.close();
  await stopChild(ceil.srv);
  const ratios = rounds.map((r) => (r.ceiling.rps > 0 ? r.gateway.rps / r.ceiling.rps : 0));
  const us = (side: 'gateway' | 'ceiling') => median(rounds.flatMap((r) => (r[side].cpuUsPerAuth === null ? [] : [r[side].cpuUsPerAuth!])));
  return { rounds: rounds.length, ratio: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), gatewayUs: us('gateway'), ceilingUs: us('ceiling') };
}

export async function authPhase() {
  const gw = await startGateway('auth');
  const A = opts.authAccounts;
  const staffPerAccount = Math.min(opts.staff, Math.ceil(opts.sockets / A));
  const accounts: { id: string; tokens: string[] }[] = [];
  for (let a = 0; a < A; a++) {
    const id = `wsauth${RUN}a${a}`;
    const staff = Array.from({ length: staffPerAccount }, (_, s) => ({ id: `s${s}`, identity: `wsb_${RUN}_a${a}_s${s}` }));
    await createAccount(gw.port, id, staff);
    accounts.push({ id, tokens: await Promise.all(staff.map((s) => staffToken(gw.port, id, s.id))) });
  }
  log(`auth: ${A} account(s) × ${staffPerAccount} staff, ${fmtInt(MONTHLY_MINUTES)} minutes each; opening ${opts.sockets} sockets`);

  const target = { load: createLoad() };
  const load = target.load;
  const { state, hist, paced } = load;
  const sockets: LoadSocket[] = [];
  const idxs = Array.from({ length: opts.sockets }, (_, i) => i);
  await pool(idxs, 50, async (i) => {
    const acc = accounts[i % A]!;
    const token = acc.tokens[Math.floor(i / A) % acc.tokens.length]!;
    const s: LoadSocket = { idx: i, ws: null as unknown as WebSocket, inflight: new Map(), seq: 0, gotSnapshot: false };
    const ws = trackWs(await openWs(`${wsBase(gw.port)}/v1/ws`, { authorization: `Bearer ${token}` }, (data) => target.load.onMessage(s, data)));
    s.ws = ws;
    ws.on('close', (code, reason) => {
      if (target.load.state.running) state.firstBad ||= `socket ${i} closed ${code} ${reason.toString()}`;
    });
    sockets[i] = s;
  });
  const snapDeadline = hrMs() + 10_000;
  while (sockets.some((s) => !s.gotSnapshot) && hrMs() < snapDeadline) await sleep(20);
  check(
    sockets.every((s) => s.gotSnapshot),
    'auth: every staff socket gets its balance snapshot on connect',
  );
  state.balanceFrames = 0;

  const firstAuthAt = hrMs();
  const { unanswered, elapsedS, windowS, rps, cpu, cpuUsPerAuth } = await load.drive('auth', sockets, gw.proc.pid);

  // Every granted authorization still holds its minute (none expired yet if the phase
  // was shorter than the TTL): reserved must equal them, summed over the accounts.
  await sleep(200);
  let reserved = 0;
  for (const a of accounts) reserved += Number((await mustApi(gw.port, 'GET', `/v1/accounts/${a.id}/balance`, undefined, 200)).reserved);
  const reservedCheckable = elapsedS + 1 < AUTHORIZATION_TTL_SECONDS;

  const alternated = opts.authRounds > 0 && !paced ? await alternatedRuns({ sockets, target, pid: gw.proc.pid }) : null;
  if (alternated && (hrMs() - firstAuthAt) / 1000 > AUTHORIZATION_TTL_SECONDS) {
    notes.push(
      `auth: the alternated rounds ran past the authorizations' ${AUTHORIZATION_TTL_SECONDS} s TTL, so the gateway's last slices also released ` +
        'expired ones (work the single run never has): use fewer rounds or shorter slices (--auth-rounds, --auth-slice) to compare like with like',
    );
  }
  for (const s of sockets) s.ws.close();
  await stopChild(gw);
  // The same load against the bare ceiling, right after (issue #12: the ratio, same run).
  const bare = await ceilingRun();

  const h = hist.summary();
  cpuRows.push({ phase: 'auth', window: `${opts.duration} s`, cpu });
  cpuRows.push({ phase: 'auth ceiling', window: `${opts.duration} s`, cpu: bare.cpu });
  const inflightTotal = opts.sockets * opts.inflight;
  const mode = paced ? `paced at ${fmtInt(opts.authRate)}/s, ≤ ${opts.inflight} in flight per socket` : `${opts.inflight} in flight per socket (${inflightTotal} in all)`;
  const ratio = bare.rps > 0 ? rps / bare.rps : 0;
  rows.push({ phase: 'auth', what: `authorizations/s — ${opts.sockets} sockets, ${A} account(s), ${mode}`, value: fmtInt(rps), target: '-', met: null });
  rows.push({
    phase: 'auth',
    what: 'bare ceiling, same load (ceiling-server.mjs: ws + JSON.parse + one EVALSHA + send): authorizations/s; p99 ms; CPU µs per reply',
    value: `${fmtInt(bare.rps)}; ${bare.latency.p99}; ${bare.cpuUsPerAuth ?? '-'} µs`,
    target: '-',
    met: null,
  });
  rows.push({ phase: 'auth', what: 'authorizations/s ÷ bare ceiling', value: r2(ratio).toFixed(2), target: '≥ 0.8', met: ratio >= 0.8 });
  if (alternated) {
    rows.push({
      phase: 'auth',
      what: `authorizations/s ÷ bare ceiling, alternated: median of ${alternated.rounds} rounds of ${opts.authSlice} s slices (min–max); CPU µs per authorization, gateway · ceiling (medians)`,
      value: `${r2(alternated.ratio).toFixed(2)} (${r2(alternated.min)}–${r2(alternated.max)}); ${r1(alternated.gatewayUs)} · ${r1(alternated.ceilingUs)} µs`,
      target: '≥ 0.8',
      met: alternated.ratio >= 0.8,
    });
  }
  rows.push({ phase: 'auth', what: 'latency send → reply p50 / p99 / max (ms)', value: `${h.p50} / ${h.p99} / ${r1(h.max)}`, target: 'p99 ≤ 10', met: h.p99 <= 10 });
  rows.push({
    phase: 'auth',
    what: 'replies: authorized / denied / error / unanswered',
    value: `${fmtInt(state.authorized)} / ${state.denied} / ${state.errors} / ${unanswered}`,
    target: 'all authorized',
    met: check(state.denied === 0 && state.errors === 0 && unanswered === 0 && state.other === 0 && state.authorized > 0, 'auth: every reply is authorized'),
  });
  // Machine-independent cost (issue #12): the gateway's own CPU time per reply.
  rows.push({
    phase: 'auth',
    what: 'gateway CPU per socket authorization (/proc); DERIVED: authorizations/s per gateway core (1e6 / µs)',
    value: cpuUsPerAuth === null ? '-' : `${cpuUsPerAuth} µs; ${fmtInt(1e6 / cpuUsPerAuth)}/s`,
    target: '-',
    met: null,
  });
  const perReply = state.windowReplies > 0 ? state.windowBalanceFrames / state.windowReplies : 0;
  rows.push({
    phase: 'auth',
    what: 'balance frames received per reply (every authorization changes `reserved`)',
    value: `${r1(perReply)} (${fmtInt(state.windowBalanceFrames / windowS)}/s)`,
    target: '-',
    met: null,
  });
  if (perReply > 10) {
    notes.push(
      `auth: each authorization changed the pool's \`reserved\` and so was broadcast to every socket of its account ` +
        `(${r1(perReply)} balance frames per reply): with ${opts.sockets} sockets on ${A} account(s) this fan-out, not the authorization path, ` +
        `bounds the rate. \`--auth-accounts ${opts.sockets}\` (one socket per account) measures the authorization path alone.`,
    );
  }
  if (reservedCheckable) {
    rows.push({
      phase: 'auth',
      what: 'pool: reserved minutes = authorizations granted',
      value: `${fmtInt(reserved)} = ${fmtInt(state.authorized)}`,
      target: 'equal',
      met: check(reserved === state.authorized, 'auth: reserved equals the authorizations granted'),
    });
  }
  return {
    sockets: opts.sockets,
    accounts: A,
    inflightPerSocket: opts.inflight,
    paceRps: opts.authRate || null,
    rps: Math.round(rps),
    ceilingRps: Math.round(bare.rps),
    ratioToCeiling: r2(ratio),
    alternated,
    ceilingLatencyMs: bare.latency,
    ceilingCpuUsPerReply: bare.cpuUsPerAuth,
    latencyMs: h,
    sent: state.sent,
    authorized: state.authorized,
    denied: state.denied,
    errors: state.errors,
    unanswered,
    unexpectedFrames: state.other,
    firstUnexpected: state.firstBad || null,
    balanceFramesPerReply: r2(perReply),
    gatewayCpuUsPerAuthorization: cpuUsPerAuth,
    reserved,
    reservedCheckable,
    cpu,
    gatewayWarnLogLines: gw.warnLines,
  };
}
