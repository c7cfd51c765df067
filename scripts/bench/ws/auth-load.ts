// The auth phase's load (auth.ts): each socket keeps its authorize requests in flight (or
// a paced rate is shared out), replies are checked and timed, and a measured window gives
// the rate, the latency and the server's CPU per authorization. The same load drives the
// gateway and the bare ceiling (auth-ceiling.ts).
import type WebSocket from 'ws';
import { cpuUsPer } from '../lib/cost.js';
import { cpuSample, cpuShare } from '../lib/cpu.js';
import { Hist } from '../lib/histogram.mjs';
import { hrMs, sleep } from '../lib/util.js';
import { RUN, log, opts, shared } from './context.js';
import { isBalance } from './gateway.js';

export interface LoadSocket {
  idx: number;
  ws: WebSocket;
  inflight: Map<string, number>;
  seq: number;
  gotSnapshot: boolean;
}

const TO = '+14155550100';

/** The closed-loop (or paced) authorize load of this phase, against a gateway or the bare
 *  ceiling: the same frames, the same sockets and in-flight bound, the same window. */
export function createLoad() {
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

export type AuthLoad = ReturnType<typeof createLoad>;
/** Where a socket's replies go: the load it is driven by now. */
export interface LoadTarget {
  load: AuthLoad;
}
