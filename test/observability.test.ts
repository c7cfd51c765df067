// /metrics by the book (prom-client: default process metrics, _total counters, latency
// histograms in seconds) scraped and parsed after real traffic; an access-log line per
// request carrying the request id (taken from X-Request-Id, echoed on the answer), the
// client's address and user agent, and a webhook's CallSid; probes and scrapes at debug.
import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { computeTwilioSignature } from '../src/twilio/signature.js';
import { createAccount, startTestGateway, TEST_ADMIN_KEY, TEST_AUTH_TOKEN, type TestGateway } from './support/gateway.js';
import { answeredCallSignals, placeSoftphoneCall, postAll } from './support/calls.js';
import { wsUrl } from './support/ws-client.js';

const lines: string[] = [];
let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ log: (l) => lines.push(l), env: { MEDIA_STREAMS: 'on' } });
});
afterAll(() => gw.stop());

/** Prometheus text → samples (name, labels, value) and the declared TYPE of each family. */
function parse(text: string) {
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) types.set(t[1]!, t[2]!);
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    expect(m, `a sample line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m![2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    samples.push({ name: m![1]!, labels, value: Number(m![3]) });
  }
  return { samples, types };
}

it('exports process, HTTP, script and gateway figures after real traffic', async () => {
  const a = await createAccount(gw, { monthlyMinutes: 10 });
  const call = await placeSoftphoneCall(gw, a.identity);
  await postAll(gw, answeredCallSignals(call.callSid, 90));
  await gw.admin('GET', `/v1/accounts/${a.id}/balance`);
  const res = await fetch(`${gw.url}/metrics`);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const { samples, types } = parse(await res.text());
  const find = (name: string, labels: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

  // Default process metrics: CPU, heap, event-loop lag.
  for (const n of ['process_cpu_seconds_total', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) expect(find(n).length, n).toBeGreaterThan(0);
  // Counters follow the conventions; the old gauge is gone.
  expect(types.get('minutegate_http_requests_total')).toBe('counter');
  expect(find('minutegate_http_requests_total', { route: '/twilio/voice', method: 'POST', status: '200' })[0]?.value).toBeGreaterThanOrEqual(1);
  expect(find('minutegate_http_requests_total', { route: '/v1/accounts/:id/balance', method: 'GET', status: '200' })[0]?.value).toBeGreaterThanOrEqual(1);
  expect(types.get('minutegate_media_frames_total')).toBe('counter');
  expect(types.has('minutegate_media_frames')).toBe(false);
  // Histograms in seconds.
  expect(types.get('minutegate_http_request_duration_seconds')).toBe('histogram');
  const statusCount = find('minutegate_http_request_duration_seconds_count', { route: '/twilio/status', method: 'POST' });
  expect(statusCount.reduce((s, x) => s + x.value, 0)).toBe(6);
  expect(find('minutegate_redis_script_duration_seconds_count', { script: 'authorize-call' })[0]?.value).toBeGreaterThanOrEqual(1);
  expect(find('minutegate_redis_script_duration_seconds_count', { script: 'record-call-event' })[0]?.value).toBeGreaterThanOrEqual(6);
  expect(find('minutegate_call_authorizations_total', { decision: 'allowed' })[0]?.value).toBeGreaterThanOrEqual(1);
  for (const g of ['minutegate_ws_clients', 'minutegate_unsettled_calls', 'minutegate_reconcile_backlog', 'minutegate_reconcile_unindexed', 'minutegate_media_streams_open']) {
    expect(types.get(g), g).toBe('gauge');
  }
  expect(types.get('minutegate_bus_messages_dropped_total')).toBe('counter');
});

it('logs one access line per request with the request id it echoes, and never the query', async () => {
  const res = await fetch(`${gw.url}/v1/accounts/nobody/balance?token=very-secret-token`, {
    headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'x-request-id': 'req-abc-123' },
  });
  expect(res.status).toBe(404);
  expect(res.headers.get('x-request-id')).toBe('req-abc-123');
  const fresh = await fetch(`${gw.url}/healthz`);
  expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  await new Promise((r) => setTimeout(r, 50));
  const records = lines.map((l) => JSON.parse(l) as Record<string, any>);
  const access = records.find((r) => r.requestId === 'req-abc-123' && r.msg === 'request');
  expect(access).toMatchObject({ level: 'info', method: 'GET', path: '/v1/accounts/nobody/balance', route: '/v1/accounts/:id/balance', status: 404 });
  expect(typeof access!.ms).toBe('number');
  expect(lines.join('\n')).not.toContain('very-secret-token');
  expect(lines.join('\n')).not.toContain(TEST_ADMIN_KEY);
});

/** The HTTP answer to an upgrade: the 101's head, or a refusal's head and body. */
function upgradeAnswer(url: string, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body?: string }>((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('upgrade', (res) => {
      resolve({ status: res.statusCode!, headers: res.headers });
      ws.close();
    });
    ws.on('unexpected-response', (_q, res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    ws.on('error', (err) => reject(err));
  });
}

it('a socket upgrade is a request like any other: request id, security headers, access line, metrics', async () => {
  const ok = await upgradeAnswer(`${wsUrl(gw.url)}?token=${TEST_ADMIN_KEY}`, { 'x-request-id': 'ws-up-ok' });
  expect(ok.status).toBe(101);
  expect(ok.headers).toMatchObject({ 'x-request-id': 'ws-up-ok', 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' });
  const refused = await upgradeAnswer(`${wsUrl(gw.url)}?token=very-secret-socket-token`, { 'x-request-id': 'ws-up-401' });
  expect(refused.status).toBe(401);
  expect(refused.headers['x-request-id']).toBe('ws-up-401');
  expect(JSON.parse(refused.body!).error.code).toBe('UNAUTHORIZED');

  await new Promise((r) => setTimeout(r, 50));
  const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(records.find((r) => r.requestId === 'ws-up-ok' && r.msg === 'request')).toMatchObject({ path: '/v1/ws', route: '/v1/ws', status: 101 });
  expect(records.find((r) => r.requestId === 'ws-up-401' && r.msg === 'request')).toMatchObject({ path: '/v1/ws', route: '/v1/ws', status: 401 });
  // The query (where browsers put their token) is never logged.
  expect(lines.join('\n')).not.toContain('very-secret-socket-token');
  expect(lines.join('\n')).not.toContain(TEST_ADMIN_KEY);

  const { samples } = parse(await (await fetch(`${gw.url}/metrics`)).text());
  const count = (status: string) =>
    samples.find((s) => s.name === 'minutegate_http_requests_total' && s.labels.route === '/v1/ws' && s.labels.status === status)?.value;
  expect(count('101')).toBeGreaterThanOrEqual(1);
  expect(count('401')).toBeGreaterThanOrEqual(1);
});

it('access lines name the client (address, forwarded-for, user agent); probes and scrapes are at debug, never info', async () => {
  const headers = { 'user-agent': 'ops-check/1.0 (access line)', 'x-forwarded-for': '203.0.113.7, 10.0.0.2' };
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    const res = await fetch(`${gw.url}${path}`, { headers: { ...headers, 'x-request-id': `probe${path.replace('/', '-')}` } });
    await res.arrayBuffer();
  }
  const api = await fetch(`${gw.url}/v1/accounts/nobody/balance`, { headers: { ...headers, authorization: `Bearer ${TEST_ADMIN_KEY}`, 'x-request-id': 'api-ua' } });
  await api.arrayBuffer();
  const long = await fetch(`${gw.url}/v1/accounts`, { headers: { 'user-agent': 'x'.repeat(5000), 'x-request-id': 'api-long-ua' } });
  await long.arrayBuffer();
  await new Promise((r) => setTimeout(r, 50));
  const records = lines.map((l) => JSON.parse(l) as Record<string, any>);
  const accessOf = (id: string) => records.find((r) => r.requestId === id && r.msg === 'request');

  const client = { ip: expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$/), forwardedFor: '203.0.113.7, 10.0.0.2', userAgent: 'ops-check/1.0 (access line)' };
  expect(accessOf('api-ua')).toMatchObject({ level: 'info', status: 404, ...client });
  for (const id of ['probe-healthz', 'probe-readyz', 'probe-metrics']) expect(accessOf(id), id).toMatchObject({ level: 'debug', ...client });
  // A client picks its header's length, not the log's line.
  expect(accessOf('api-long-ua')!.userAgent).toHaveLength(257);
  expect(accessOf('api-long-ua')).not.toHaveProperty('forwardedFor');
});

it("a webhook's access line is at debug and carries its CallSid", async () => {
  const a = await createAccount(gw, { monthlyMinutes: 10 });
  const call = await placeSoftphoneCall(gw, a.identity);
  await postAll(gw, answeredCallSignals(call.callSid, 30));
  await new Promise((r) => setTimeout(r, 50));
  const records = lines.map((l) => JSON.parse(l) as Record<string, any>);
  const voice = records.filter((r) => r.msg === 'request' && r.path === '/twilio/voice' && r.callSid === call.callSid);
  expect(voice).toHaveLength(1);
  expect(voice[0]).toMatchObject({ level: 'debug', status: 200, route: '/twilio/voice' });
  const status = records.filter((r) => r.msg === 'request' && r.path === '/twilio/status' && r.callSid === call.callSid);
  expect(status.length).toBeGreaterThanOrEqual(2);
  for (const r of status) expect(r.level).toBe('debug');
  // The call's Media Streams upgrade: its CallSid comes from the URL's token.
  const streamUrl = /<Stream url="([^"]+)"/.exec(call.twiml)![1]!;
  const opened = await upgradeAnswer(wsUrl(gw.url, new URL(streamUrl).pathname), {
    'x-twilio-signature': computeTwilioSignature(TEST_AUTH_TOKEN, streamUrl, {}),
    'x-request-id': 'media-up',
  });
  expect(opened.status).toBe(101);
  await new Promise((r) => setTimeout(r, 50));
  expect(lines.map((l) => JSON.parse(l)).find((r) => r.requestId === 'media-up' && r.msg === 'request')).toMatchObject({
    level: 'debug',
    route: '/twilio/media/*',
    status: 101,
    callSid: call.callSid,
  });
  // A request that fails its signature names no call: nothing it claims was verified.
  const forged = await gw.twilio('/twilio/status', { CallSid: 'CAforgedforgedforgedforgedforged00', CallStatus: 'completed' }, { signature: 'bad' });
  expect(forged.status).toBe(403);
  await new Promise((r) => setTimeout(r, 50));
  expect(lines.join('\n')).not.toContain('CAforgedforgedforgedforgedforged00');
});
