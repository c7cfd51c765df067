// The fan-out phase's helpers: the client processes holding the dashboard sockets
// (fanout-clients.mjs, over IPC) and the ping probe that sees the gateway's stalls.
import { join } from 'node:path';
import type WebSocket from 'ws';
import { Hist } from '../lib/histogram.mjs';
import { spawnNode, trackChild, type Child } from '../lib/processes.js';
import { ROOT, hrMs, sleep } from '../lib/util.js';
import { log } from './context.js';

export interface ClientProc {
  child: Child;
  count: number;
  pending: ((m: any) => void)[];
}

export function startClientProc(i: number): Promise<ClientProc> {
  const proc = spawnNode([join(ROOT, 'scripts', 'bench', 'ws', 'fanout-clients.mjs')], { PATH: process.env.PATH ?? '' }, { raiseFileLimit: true, ipc: true });
  const child = trackChild(`fan-out clients ${i}`, proc, 0);
  const cp: ClientProc = { child, count: 0, pending: [] };
  return new Promise((resolveProc, reject) => {
    const timer = setTimeout(() => reject(new Error(`${child.name} did not start: ${child.tail.join(' ')}`)), 10_000);
    proc.on('message', (m: any) => {
      if (m.ev === 'ready') {
        clearTimeout(timer);
        resolveProc(cp);
        return;
      }
      if (m.ev === 'error') log(`${child.name}: ${m.message}`);
      cp.pending.shift()?.(m);
    });
    void child.exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${child.name} exited: ${child.tail.join(' ')}`));
      for (const p of cp.pending.splice(0)) p({ ev: 'error', message: 'exited' });
    });
  });
}

/** One request/answer over IPC (the client process answers in order). */
export function ask(cp: ClientProc, msg: object, timeoutMs = 120_000): Promise<any> {
  return new Promise((resolveAsk, reject) => {
    const t = setTimeout(() => reject(new Error(`${cp.child.name}: no answer to ${JSON.stringify(msg).slice(0, 60)}`)), timeoutMs);
    cp.pending.push((m) => {
      clearTimeout(t);
      if (m.ev === 'error') reject(new Error(`${cp.child.name}: ${m.message}`));
      else resolveAsk(m);
    });
    cp.child.proc.send(msg);
  });
}

/** Pings the gateway every 5 ms from a socket that watches nothing; a pong's round trip
 *  includes any stall of the gateway's event loop. */
export function pingProbe(ws: WebSocket) {
  const sent = new Map<string, number>();
  let seq = 0;
  let hist = new Hist();
  ws.on('message', (data: Buffer) => {
    const t = hrMs();
    const m = JSON.parse(data.toString()) as { type?: string; requestId?: string };
    if (m.type !== 'pong' || m.requestId === undefined) return;
    const at = sent.get(m.requestId);
    if (at === undefined) return;
    sent.delete(m.requestId);
    hist.recordMs(t - at);
  });
  const tick = () => {
    const id = `p${++seq}`;
    sent.set(id, hrMs());
    ws.send(`{"type":"ping","requestId":"${id}"}`);
  };
  let timer: NodeJS.Timeout | null = setInterval(tick, 5);
  return {
    /** Starts a new histogram and returns the previous one. Pings in flight are recorded
     *  in the new one when they come back. */
    take(): Hist {
      const out = hist;
      hist = new Hist();
      return out;
    },
    /** Stops pinging, waits (≤ 2 s) for the pings in flight, and returns the histogram
     *  with the number of pings never answered. */
    async finish(): Promise<{ hist: Hist; lost: number }> {
      if (timer) clearInterval(timer);
      timer = null;
      const until = hrMs() + 2000;
      while (sent.size > 0 && hrMs() < until) await sleep(5);
      const out = { hist, lost: sent.size };
      sent.clear();
      hist = new Hist();
      return out;
    },
    resume() {
      timer ??= setInterval(tick, 5);
    },
  };
}
