#!/usr/bin/env node
// The bare baseline of a balance fan-out on this stack (BENCHMARKS.md): a `ws` server with
// the gateway's socket options that keeps one account's balance in memory and, for every
// change, writes the newest balance frame to every socket — built once per pass by the
// gateway's own textFrame(), written with one `socket.write` each as the gateway does
// (ws/client-connection.ts), in one synchronous loop, the next pass starting as soon as
// one ends when the balance moved meanwhile. No token check, no Redis, no throttle, no
// time slices: what a plain server that pushes every change to every socket at once does
// here. scripts/bench/ws/fanout.ts
// runs it after the gateway with the same client processes, adjustments and ping probe, so
// the gateway's delivery figures have a same-run reference (its throttle and slices are the
// difference; the CPU table calls it "fanout ceiling", as the other phases' references).
//
// It speaks just what fanout.ts uses of the gateway: the upgrade at any path (every socket
// gets the balance frame at once), `{"type":"ping","requestId":…}` → a pong,
// POST /v1/accounts/<id>/adjustments {"minutes":n} → 201 {"balance":{"balance":…}},
// GET /v1/accounts/<id>/balance, GET /healthz.
//
// Env: PORT (0 = any). Prints nothing; startServer() waits for /healthz.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
// The gateway's own frame builder, from the COMPILED dist/ (run `npm run build` first).
import { textFrame } from '../../../dist/ws/client-connection.js';

const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024, perMessageDeflate: false, clientTracking: false });
const sockets = new Set();
let balance = 1_000_000;
let version = 1;
let passRunning = false;
let sentVersion = 0;

// The gateway's balance view has these fields (accounts/views.ts), so the frames are the
// same size on the wire.
const view = () =>
  JSON.stringify({
    type: 'balance',
    accountId: 'wsbare',
    balance,
    reserved: 0,
    available: balance,
    planMinutes: 1_000_000,
    addonMinutes: 0,
    monthlyMinutes: 1_000_000,
    usedThisCycle: 0,
    overageThisCycle: 0,
    activeCalls: 0,
    cycleStart: '2026-12-01T00:00:00.000Z',
    cycleEnd: '2027-01-01T00:00:00.000Z',
    version,
  });

function pass() {
  passRunning = true;
  sentVersion = version;
  const frame = textFrame(view());
  for (const ws of sockets) {
    const socket = ws._socket;
    if (socket && !socket.destroyed) socket.write(frame);
  }
  // The next pass, if the balance moved meanwhile, after what waited on the loop.
  setImmediate(() => {
    passRunning = false;
    if (version > sentVersion) pass();
  });
}

function changed() {
  version++;
  if (!passRunning) pass();
}

function readJson(req) {
  return new Promise((resolve) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      try {
        resolve(JSON.parse(body));
      } catch {
        resolve(null);
      }
    });
  });
}

const json = (res, status, value) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));

const http = createServer(async (req, res) => {
  if (req.url === '/healthz') return res.writeHead(200).end();
  if (req.method === 'GET' && /^\/v1\/accounts\/[^/]+\/balance$/.test(req.url ?? '')) return json(res, 200, { balance });
  if (req.method === 'POST' && /^\/v1\/accounts\/[^/]+\/adjustments$/.test(req.url ?? '')) {
    const body = await readJson(req);
    const minutes = Number(body?.minutes);
    if (!Number.isInteger(minutes)) return json(res, 400, { error: 'minutes: a whole number' });
    balance += minutes;
    changed();
    return json(res, 201, { balance: { balance } });
  }
  res.writeHead(404).end();
});
http.on('upgrade', (req, socket, head) =>
  wss.handleUpgrade(req, socket, head, (ws) => {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.on('error', () => {});
    ws.on('message', (data) => {
      let m;
      try {
        m = JSON.parse(data.toString());
      } catch {
        return;
      }
      if (m?.type === 'ping') ws.send(JSON.stringify({ type: 'pong', requestId: m.requestId }));
    });
    ws.send(view());
  }),
);
http.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
