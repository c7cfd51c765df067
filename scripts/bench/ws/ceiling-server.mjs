#!/usr/bin/env node
// The bare ceiling of a socket authorization on this stack (the least any server must spend
// on one, measured in the same run as the gateway: BENCHMARKS.md): a `ws` server that parses each frame with
// JSON.parse, runs one EVALSHA of a tiny check-and-reserve script on ioredis with
// auto-pipelining, and sends a small JSON reply. No authentication, no schema, no rate
// limit, no balance fan-out, no metrics: it is what scripts/bench/ws/auth.ts compares the
// gateway's `authorize` against, with the same load, in the same run.
//
// Env: PORT, REDIS_URL, REDIS_PREFIX. GET /healthz answers 200 once Redis is up.
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { WebSocketServer } from 'ws';

const prefix = process.env.REDIS_PREFIX ?? 'mgbench-wsbare';
const POOL = `${prefix}:{wsbare}:pool`;
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true, enableAutoPipelining: true });
// HGET×2, compare, HINCRBY, HSET of the authorization — the shape of a reservation, nothing more.
redis.defineCommand('reserve', {
  numberOfKeys: 1,
  lua: `
    local b = tonumber(redis.call('HGET', KEYS[1], 'balance') or '1000000000')
    local r = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
    if b - r < 1 then return 0 end
    redis.call('HINCRBY', KEYS[1], 'reserved', 1)
    redis.call('HSET', KEYS[1] .. ':a:' .. ARGV[1], 'state', 'authorized', 'at', ARGV[2])
    redis.call('PEXPIRE', KEYS[1] .. ':a:' .. ARGV[1], 120000)
    return 1`,
});
let ready = false;
const http = createServer((req, res) => {
  res.writeHead(req.url === '/healthz' && ready ? 200 : 503).end();
});
const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
let n = 0;
wss.on('connection', (ws) =>
  ws.on('message', async (d) => {
    const m = JSON.parse(d);
    const id = `az_${++n}`;
    const ok = await redis.reserve(POOL, id, Date.now());
    ws.send(JSON.stringify(ok ? { type: 'authorized', requestId: m.requestId, authorizationId: id } : { type: 'denied', requestId: m.requestId }));
  }),
);
await redis.connect();
ready = true;
http.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
process.on('SIGTERM', async () => {
  await redis.unlink(POOL).catch(() => {});
  process.exit(0);
});
