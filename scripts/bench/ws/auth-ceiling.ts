// The auth phase's bare ceiling (ceiling-server.mjs: ws + JSON.parse + one EVALSHA + send),
// in its own process, driven by the same load as the gateway (auth-load.ts): once after the
// gateway's run, and (--auth-rounds) taking turns with the gateway's sockets.
import { join } from 'node:path';
import type WebSocket from 'ws';
import { startServer, stopChild } from '../lib/processes.js';
import { ROOT, fmtInt, median, pool } from '../lib/util.js';
import { PREFIX, check, log, opts } from './context.js';
import { openWs, trackWs, wsBase } from './gateway.js';
import { createLoad, type LoadSocket, type LoadTarget } from './auth-load.js';

/** The bare ceiling (ceiling-server.mjs) in its own process, with the phase's sockets
 *  open on it; their replies go to whichever load `target` holds. */
async function openCeiling(target: LoadTarget) {
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
export async function ceilingRun() {
  const target = { load: createLoad() };
  const { srv, sockets } = await openCeiling(target);
  const load = target.load;
  const run = await load.drive('ceiling', sockets, srv.proc.pid);
  for (const s of sockets) s.ws.close();
  await stopChild(srv);
  check(load.state.errors === 0 && load.state.other === 0 && run.unanswered === 0, 'auth ceiling: every reply answered');
  return { ...run, latency: load.hist.summary() };
}

/** --auth-rounds N (session 25): the gateway's sockets and the ceiling's take turns at the
 *  load in slices of --auth-slice seconds, gateway first in even rounds and ceiling first
 *  in odd ones, so the machine's drift falls on both; the ratio is the median of each
 *  round's gateway ÷ ceiling. */
export async function alternatedRuns(gw: { sockets: LoadSocket[]; target: LoadTarget; pid: number | undefined }) {
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
  const us = (side: 'gateway' | 'ceiling') => median(rounds.flatMap((r) => (r[side].cpuUsPerAuth === null ? [] : [r[side].cpuUsPerAuth!]))) ?? 0;
  return { rounds: rounds.length, ratio: median(ratios) ?? 0, min: Math.min(...ratios), max: Math.max(...ratios), gatewayUs: us('gateway'), ceilingUs: us('ceiling') };
}
