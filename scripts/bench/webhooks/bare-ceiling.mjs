#!/usr/bin/env node
// The "bare ceiling" of a signed, metered Twilio webhook on this stack (BENCHMARKS.md): Hono on
// @hono/node-server, one POST route that reads the form body, parses it with
// URLSearchParams, validates X-Twilio-Signature with the gateway's own validator (from the
// COMPILED dist/, so run `npm run build` first) and runs one EVALSHA of a tiny
// check-and-reserve script on ioredis with auto-pipelining, answering a small TwiML string.
// No body limit, no content-type check, no directory lookups, no metrics: it is what the
// gateway is compared against by scripts/bench/webhooks/main.ts, which starts it as
// `node scripts/bench/webhooks/bare-ceiling.mjs` (plain JS, so no loader runs at request time).
//
// Env: PORT (0 = any), TWILIO_AUTH_TOKEN, PUBLIC_BASE_URL, REDIS_PREFIX, REDIS_URL.
// Prints "bare-ceiling listening on <port>" when ready; GET /healthz answers once Redis is up.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Redis } from 'ioredis';
import { validateTwilioSignature } from '../../../dist/twilio/signature.js';

const authToken = process.env.TWILIO_AUTH_TOKEN;
const publicBaseUrl = (process.env.PUBLIC_BASE_URL ?? '').replace(/\/+$/, '');
if (!authToken || !publicBaseUrl) {
  process.stderr.write('bare-ceiling: TWILIO_AUTH_TOKEN and PUBLIC_BASE_URL are required\n');
  process.exit(2);
}
const prefix = process.env.REDIS_PREFIX ?? 'mgbench-bare';
const POOL = `${prefix}:bare:pool`;

// HGET×2, compare, HINCRBY, HSET — the shape of the gateway's reservation, nothing more.
const CHECK_AND_RESERVE = `
local balance = tonumber(redis.call('HGET', KEYS[1], 'balance') or '0')
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
local want = tonumber(ARGV[1])
if balance - reserved < want then return 0 end
redis.call('HINCRBY', KEYS[1], 'reserved', want)
redis.call('HSET', KEYS[1], 'lastCall', ARGV[2])
return 1
`;

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  lazyConnect: true,
  enableAutoPipelining: true,
  maxRetriesPerRequest: 1,
  connectionName: 'minutegate-bare-ceiling',
});
redis.defineCommand('checkAndReserve', { numberOfKeys: 1, lua: CHECK_AND_RESERVE });
redis.on('error', (err) => process.stderr.write(`bare-ceiling: redis error: ${err.message}\n`));
await redis.connect();
await redis.hset(POOL, 'balance', '1000000000000000', 'reserved', '0');

const XML = { 'content-type': 'text/xml; charset=utf-8' };
const DIAL =
  '<?xml version="1.0" encoding="UTF-8"?><Response><Dial><Number>+14155550100</Number></Dial></Response>';
const REJECT = '<?xml version="1.0" encoding="UTF-8"?><Response><Reject reason="rejected"/></Response>';

const app = new Hono();
app.get('/healthz', (c) => c.text('ok'));
app.post('/twilio/voice', async (c) => {
  const body = await c.req.text();
  const params = Object.create(null);
  for (const [name, value] of new URLSearchParams(body)) params[name] = value;
  const raw = c.req.url;
  const url = publicBaseUrl + raw.slice(raw.indexOf('/', raw.indexOf('//') + 2));
  if (!validateTwilioSignature(authToken, c.req.header('x-twilio-signature'), url, params)) {
    return c.text('bad signature', 403);
  }
  const ok = await redis.checkAndReserve(POOL, 1, params.CallSid ?? '');
  return c.body(ok === 1 ? DIAL : REJECT, 200, XML);
});

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 0), hostname: '127.0.0.1' }, (info) => {
  process.stdout.write(`bare-ceiling listening on ${info.port}\n`);
});

let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), 3000).unref();
  server.close(() => {
    redis.quit().catch(() => redis.disconnect()).finally(() => process.exit(0));
  });
  server.closeIdleConnections?.();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
