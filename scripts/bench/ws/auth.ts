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
  async function drive(label: string, sockets: LoadSocket[], pid: number | undefined) {
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
    log(`${label}: warm-up ${opts.warmup} s, then measuring ${opts.duration} s`);
    await sleep(opts.warmup * 1000);
    const cpuA = await cpuSample(shared.redis, pid);
    state.mStart = hrMs();
    await sleep(opts.duration * 1000);
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

/** The same load against the bare ceiling (ceiling-server.mjs), in its own process. */
async function ceilingRun() {
  const srv = await startServer({
    name: 'ws bare ceiling',
    script: join(ROOT, 'scripts', 'bench', 'ws', 'ceiling-server.mjs'),
    env: { REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', REDIS_PREFIX: PREFIX },
    readyPath: '/healthz',
    log,
  });
  const load = createLoad();
  const sockets: LoadSocket[] = [];
  await pool(Array.from({ length: opts.sockets }, (_, i) => i), 50, async (i) => {
    const s: LoadSocket = { idx: i, ws: null as unknown as WebSocket, inflight: new Map(), seq: 0, gotSnapshot: true };
    s.ws = trackWs(await openWs(wsBase(srv.port), {}, (data) => load.onMessage(s, data)));
    sockets[i] = s;
  });
  const run = await load.drive('ceiling', sockets, srv.proc.pid);
  for (const s of sockets) s.ws.close();
  await stopChild(srv);
  check(load.state.errors === 0 && load.state.other === 0 && run.unanswered === 0, 'auth ceiling: every reply answered');
  return { ...run, latency: load.hist.summary() };
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

  const load = createLoad();
  const { state, hist, paced } = load;
  const sockets: LoadSocket[] = [];
  const idxs = Array.from({ length: opts.sockets }, (_, i) => i);
  await pool(idxs, 50, async (i) => {
    const acc = accounts[i % A]!;
    const token = acc.tokens[Math.floor(i / A) % acc.tokens.length]!;
    const s: LoadSocket = { idx: i, ws: null as unknown as WebSocket, inflight: new Map(), seq: 0, gotSnapshot: false };
    const ws = trackWs(await openWs(`${wsBase(gw.port)}/v1/ws`, { authorization: `Bearer ${token}` }, (data) => load.onMessage(s, data)));
    s.ws = ws;
    ws.on('close', (code, reason) => {
      if (state.running) state.firstBad ||= `socket ${i} closed ${code} ${reason.toString()}`;
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

  const { unanswered, elapsedS, windowS, rps, cpu, cpuUsPerAuth } = await load.drive('auth', sockets, gw.proc.pid);

  // Every granted authorization still holds its minute (none expired yet if the phase
  // was shorter than the TTL): reserved must equal them, summed over the accounts.
  await sleep(200);
  let reserved = 0;
  for (const a of accounts) reserved += Number((await mustApi(gw.port, 'GET', `/v1/accounts/${a.id}/balance`, undefined, 200)).reserved);
  const reservedCheckable = elapsedS + 1 < AUTHORIZATION_TTL_SECONDS;

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
