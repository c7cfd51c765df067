#!/usr/bin/env node
// Dashboard sockets for the fan-out phase of the WebSocket bench (fanout.ts), in a process
// of their own so that receiving 10,000 sockets' broadcasts does not share one event loop
// with the measurement (fanout.ts starts 2 of these with an IPC channel; plain JS, no loader).
//
// Every balance frame is timestamped on arrival with process.hrtime (CLOCK_MONOTONIC,
// the same clock in every process on the machine), keyed by its `balance` — each bench
// adjustment adds one minute, so a balance names one adjustment. fanout.ts later sends the
// adjustments' send/201 times and gets back latency histograms (the benches' one Hist,
// ../lib/histogram.mjs, so they merge by adding counts).
//
// IPC in:  {cmd:'open', url, token, count, concurrency}
//          {cmd:'final', balance, timeoutMs}      wait until every socket has seen it
//          {cmd:'report', adjustments:[[balance, sentMs, ackMs], …]}
//          {cmd:'close'}
// IPC out: {ev:'opened', opened, failed, firstError, ms}, {ev:'final', …}, {ev:'report', …}
import WebSocket from 'ws';
import { Hist } from '../lib/histogram.mjs';

const hrMs = () => Number(process.hrtime.bigint()) / 1e6;
const BALANCE_PREFIX = Buffer.from('{"type":"balance"');
const BALANCE_RE = /"balance":(-?\d+)/;

/** @type {{ws: WebSocket, last: number, open: boolean}[]} */
const sockets = [];
/** balance -> Float64Array of first arrival (ms, hr clock) per socket; NaN = not received */
const arrivals = new Map();
const closes = new Map();
const heartbeats = []; // hr ms of server heartbeat pings (first per round)
let lastHeartbeat = -1e9;
let received = 0;
let otherFrames = 0;
let capacity = 0;

function onMessage(i, data, isBinary) {
  const t = hrMs();
  received++;
  if (isBinary || data.length < BALANCE_PREFIX.length || data.compare(BALANCE_PREFIX, 0, BALANCE_PREFIX.length, 0, BALANCE_PREFIX.length) !== 0) {
    otherFrames++;
    return;
  }
  const m = BALANCE_RE.exec(data.toString('latin1'));
  if (!m) {
    otherFrames++;
    return;
  }
  const balance = Number(m[1]);
  let arr = arrivals.get(balance);
  if (!arr) {
    arr = new Float64Array(capacity).fill(NaN);
    arrivals.set(balance, arr);
  }
  if (Number.isNaN(arr[i])) arr[i] = t;
  const s = sockets[i];
  if (balance > s.last) s.last = balance;
}

function openOne(url, token, i) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${token}` },
      perMessageDeflate: false,
      skipUTF8Validation: true,
      generateMask() {}, // all-zero mask: the client skips masking (the server's work is unchanged)
      handshakeTimeout: 20_000,
    });
    const s = { ws, last: -Infinity, open: false };
    sockets[i] = s;
    ws.on('message', (data, isBinary) => onMessage(i, data, isBinary));
    ws.on('ping', () => {
      const t = hrMs();
      if (t - lastHeartbeat > 1000) heartbeats.push(t);
      lastHeartbeat = t;
    });
    ws.on('close', (code) => {
      if (s.open) closes.set(code, (closes.get(code) ?? 0) + 1);
      s.open = false;
    });
    ws.on('error', (err) => resolve(err));
    ws.on('unexpected-response', (_req, res) => resolve(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    ws.on('open', () => {
      s.open = true;
      resolve(null);
    });
  });
}

async function open({ url, token, count, concurrency }) {
  const started = hrMs();
  capacity = count;
  let next = 0;
  let failed = 0;
  let firstError = null;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const err = await openOne(url, token, i);
      if (err) {
        failed++;
        firstError ??= err.message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  // Every socket gets its first snapshot on connect (staff tokens watch their account).
  const until = hrMs() + 20_000;
  while (sockets.some((s) => s.open && s.last === -Infinity) && hrMs() < until) await new Promise((r) => setTimeout(r, 20));
  const withSnapshot = sockets.filter((s) => s.open && s.last !== -Infinity).length;
  return { ev: 'opened', opened: count - failed, withSnapshot, failed, firstError, ms: hrMs() - started };
}

async function final({ balance, timeoutMs }) {
  const until = hrMs() + timeoutMs;
  const missing = () => sockets.filter((s) => s.open && s.last < balance).length;
  while (missing() > 0 && hrMs() < until) await new Promise((r) => setTimeout(r, 20));
  return { ev: 'final', missing: missing(), open: sockets.filter((s) => s.open).length };
}

function report({ adjustments }) {
  const fromSend = new Hist();
  const fromAck = new Hist();
  let delivered = 0;
  let expected = 0;
  let maxMs = 0;
  for (const [balance, sentMs, ackMs] of adjustments) {
    const arr = arrivals.get(balance);
    expected += capacity;
    if (!arr) continue;
    for (let i = 0; i < arr.length; i++) {
      const t = arr[i];
      if (Number.isNaN(t)) continue;
      delivered++;
      fromSend.recordMs(t - sentMs);
      fromAck.recordMs(Math.max(0, t - ackMs));
      if (t - sentMs > maxMs) maxMs = t - sentMs;
    }
  }
  return {
    ev: 'report',
    fromSend: fromSend.toJSON(),
    fromAck: fromAck.toJSON(),
    delivered,
    expected,
    maxMs,
    received,
    otherFrames,
    closes: Object.fromEntries(closes),
    heartbeats,
    open: sockets.filter((s) => s.open).length,
  };
}

process.on('message', async (msg) => {
  try {
    if (msg.cmd === 'open') process.send(await open(msg));
    else if (msg.cmd === 'final') process.send(await final(msg));
    else if (msg.cmd === 'report') process.send(report(msg));
    else if (msg.cmd === 'close') {
      for (const s of sockets) s?.ws.terminate();
      process.exit(0);
    }
  } catch (err) {
    process.send({ ev: 'error', message: String(err?.stack ?? err) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ ev: 'ready', pid: process.pid });
