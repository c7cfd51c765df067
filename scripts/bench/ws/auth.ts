// Phase `auth`: socket authorizations (see main.ts), then the same load against the bare
// ceiling (auth-ceiling.ts) in its own process, for the ratio issue #12 asks for.
import type WebSocket from 'ws';
import { stopChild } from '../lib/processes.js';
import { fmtInt, hrMs, pool, r1, r2, sleep } from '../lib/util.js';
import { AUTHORIZATION_TTL_SECONDS, MONTHLY_MINUTES, RUN, check, cpuRows, log, notes, opts, rows } from './context.js';
import { createAccount, mustApi, openWs, staffToken, startGateway, trackWs, wsBase } from './gateway.js';
import { createLoad, type LoadSocket, type LoadTarget } from './auth-load.js';
import { alternatedRuns, ceilingRun } from './auth-ceiling.js';

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

  const target: LoadTarget = { load: createLoad() };
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
