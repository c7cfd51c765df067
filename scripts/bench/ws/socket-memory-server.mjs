#!/usr/bin/env node
// The measured process of socket-memory.ts: either the compiled gateway (`dist/main.js`,
// as production runs it) or a bare `ws` server with an HS256 check at the upgrade, with
// an IPC channel that reads its memory, forces garbage collection and writes heap
// snapshots. Run with --expose-gc. Plain JS: the process holds nothing but what it measures.
//
// argv[2]: 'gateway' | 'bare'. Env: the gateway's (config.ts) or, for bare, PORT and
// STAFF_TOKEN_SECRET.
// IPC in: {cmd:'mem', gc?: boolean} | {cmd:'snapshot', file} | {cmd:'alloc-start'} |
// {cmd:'alloc-stop', file}; out: the answer, same cmd. alloc-* is V8's sampling heap
// profiler counting what was allocated, collected or not (a .heapprofile; alloc-sites.mjs),
// or with {promoted: true} only what outlived the young generation.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Session } from 'node:inspector/promises';
import v8 from 'node:v8';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');

function mem() {
  const m = process.memoryUsage();
  const h = v8.getHeapStatistics();
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]));
  const cpu = process.cpuUsage();
  return { cpuUs: cpu.user + cpu.system, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, mallocedMemory: h.malloced_memory, spaces };
}

async function fullGc() {
  // Twice, with a turn of the loop between: weak callbacks and finalizers of the first
  // collection free what the second one then finds.
  globalThis.gc();
  await new Promise((r) => setImmediate(r));
  globalThis.gc();
}

let session = null;
let promoted = false;

process.on('message', async (msg) => {
  if (msg.cmd === 'mem') {
    if (msg.gc) await fullGc();
    process.send({ cmd: 'mem', mem: mem() });
  } else if (msg.cmd === 'snapshot') {
    await fullGc();
    v8.writeHeapSnapshot(msg.file);
    process.send({ cmd: 'snapshot', file: msg.file });
  } else if (msg.cmd === 'alloc-start') {
    session = new Session();
    session.connect();
    // promoted: only what survived the young generation (what old space grew by), else all.
    promoted = Boolean(msg.promoted);
    await session.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: !promoted });
    process.send({ cmd: 'alloc-start' });
  } else if (msg.cmd === 'alloc-stop') {
    // Young garbage still in new space is not "promoted": two scavenges settle it first.
    if (promoted) for (let i = 0; i < 2; i++) globalThis.gc({ type: 'minor', execution: 'sync' });
    const { profile } = await session.post('HeapProfiler.stopSampling');
    session.disconnect();
    writeFileSync(msg.file, JSON.stringify(profile));
    process.send({ cmd: 'alloc-stop', file: msg.file });
  }
});
process.on('disconnect', () => process.exit(0));

if (process.argv[2] === 'bare') {
  const { WebSocketServer } = await import('ws');
  const secret = process.env.STAFF_TOKEN_SECRET;
  // An HS256 JWT's signature over header.payload: the least any authenticated upgrade costs.
  const verify = (token) => {
    const parts = token?.split('.');
    if (!parts || parts.length !== 3) return null;
    const expected = createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
    const given = Buffer.from(parts[2], 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    return JSON.parse(Buffer.from(parts[1], 'base64url').toString());
  };
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
  const sockets = new Set();
  const http = createServer((req, res) => res.writeHead(req.url === '/readyz' ? 200 : 404).end());
  http.on('upgrade', (req, socket, head) => {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    const claims = verify(m?.[1]);
    if (!claims) return socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    wss.handleUpgrade(req, socket, head, (ws) => {
      const s = { ws, accountId: claims.acc, staffId: claims.sub };
      sockets.add(s);
      ws.on('close', () => sockets.delete(s));
      ws.on('error', () => {});
      ws.send(JSON.stringify({ type: 'balance', accountId: claims.acc, balance: 0, version: 1 }));
    });
  });
  http.listen(Number(process.env.PORT), '127.0.0.1');
} else {
  // main.js runs only as the process's script (tests import it), so it is made that here.
  process.argv[1] = join(ROOT, 'dist', 'main.js');
  await import(process.argv[1]);
}
