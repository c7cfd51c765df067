// Bad input gets a clear 4xx naming the problem, changes nothing, and leaves the process
// serving.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callSid, createAccount, startTestGateway, type TestGateway } from './support/gateway.js';
import { placeSoftphoneCall } from './support/calls.js';

let gw: TestGateway;
let acct: Awaited<ReturnType<typeof createAccount>>;
beforeAll(async () => {
  gw = await startTestGateway();
  acct = await createAccount(gw, { monthlyMinutes: 10 });
});
afterAll(async () => {
  await gw.stop();
});

const snapshot = async () => (await gw.admin('GET', `/v1/accounts/${acct.id}/balance`)).json;

function chunkedPost(path: string, contentType: string, chunks: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${gw.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': contentType, authorization: 'Bearer test-admin-key-0123456789', 'transfer-encoding': 'chunked' },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

describe('HTTP bodies', () => {
  it('413 over 64 KiB, with or without a Content-Length', async () => {
    const big = 'x'.repeat(65 * 1024);
    const r1 = await gw.admin('POST', '/v1/accounts', JSON.stringify({ id: 'big', name: big, monthlyMinutes: 1 }));
    expect(r1.status).toBe(413);
    expect(r1.json.error.code).toBe('PAYLOAD_TOO_LARGE');
    const r2 = await chunkedPost('/twilio/voice', 'application/x-www-form-urlencoded', Array(70).fill(`a=${'y'.repeat(1022)}&`));
    expect(r2.status).toBe(413);
    const r3 = await chunkedPost('/v1/accounts', 'application/json', Array(70).fill(' '.repeat(1024)));
    expect(r3.status).toBe(413);
  });

  it('415 for the wrong content type, 400 for invalid JSON', async () => {
    const r1 = await gw.admin('POST', `/v1/accounts/${acct.id}/adjustments`, 'minutes=5', { 'content-type': 'text/plain' });
    expect(r1.status).toBe(415);
    expect(r1.json.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const r2 = await gw.admin('POST', `/v1/accounts/${acct.id}/adjustments`, '{"minutes": 5,');
    expect(r2.status).toBe(400);
    expect(r2.json.error.code).toBe('INVALID_JSON');
    const r3 = await fetch(`${gw.url}/twilio/status`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(r3.status).toBe(415);
  });

  it('400 naming the field for out-of-range or mistyped values', async () => {
    const cases: [unknown, string][] = [
      [{ id: 'ok1', name: 'n', monthlyMinutes: -1 }, 'monthlyMinutes'],
      [{ id: 'ok2', name: 'n', monthlyMinutes: 1.5 }, 'monthlyMinutes'],
      [{ id: 'ok3', name: 'n', monthlyMinutes: '10' }, 'monthlyMinutes'],
      [{ id: 'ok4', name: 'n', monthlyMinutes: 1e12 }, 'monthlyMinutes'],
      [{ id: 'bad{id}', name: 'n', monthlyMinutes: 1 }, 'id'],
      [{ id: 'ok5', name: 'n', monthlyMinutes: 1, billingAnchor: 'yesterday' }, 'billingAnchor'],
      [{ id: 'ok6', name: 'n', monthlyMinutes: 1, phoneNumbers: ['555-1234'] }, 'phoneNumbers.0'],
      [{ id: 'ok7', name: 'n', monthlyMinutes: 1, staff: [{ id: 's', email: 'nope', identity: 'x' }] }, 'staff.0.email'],
      [{ id: 'ok8', name: 'n', monthlyMinutes: 1, inboundWhenExhausted: 'sometimes' }, 'inboundWhenExhausted'],
      [[1, 2, 3], 'body'],
    ];
    for (const [body, field] of cases) {
      const r = await gw.admin('POST', '/v1/accounts', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.code).toBe('VALIDATION_FAILED');
      expect(r.json.error.message).toContain(field);
    }
    for (const m of [0, 1.5, 'five', 1e9]) {
      const r = await gw.admin('POST', `/v1/accounts/${acct.id}/adjustments`, { minutes: m, reason: 'x' });
      expect(r.status).toBe(400);
      expect(r.json.error.message).toContain('minutes');
    }
    const r = await gw.admin('GET', `/v1/accounts/${acct.id}/ledger?limit=100000`);
    expect(r.status).toBe(400);
    expect(r.json.error.message).toContain('limit');
    const nothingCreated = await gw.admin('GET', '/v1/accounts/ok1');
    expect(nothingCreated.status).toBe(404);
  });

  it('404 for unknown accounts and routes', async () => {
    for (const path of ['/v1/accounts/ghost', '/v1/accounts/ghost/balance', '/v1/accounts/ghost/ledger', '/v1/accounts/ghost/calls']) {
      const r = await gw.admin('GET', path);
      expect(r.status, path).toBe(404);
      expect(r.json.error.code).toBe('NOT_FOUND');
    }
    expect((await gw.admin('POST', '/v1/accounts/ghost/adjustments', { minutes: 5, reason: 'x' })).status).toBe(404);
    expect((await gw.admin('GET', '/nowhere')).status).toBe(404);
  });
});

describe('Twilio bodies that are signed but malformed', () => {
  // Missing durations and undocumented statuses are content, not malformation: they are
  // acknowledged 200 (test/lost-signals.test.ts).
  it('400 naming the parameter, and nothing changes', async () => {
    const call = await placeSoftphoneCall(gw, acct.identity);
    const before = await snapshot();
    const cases: [Record<string, string>, string][] = [
      [{ CallStatus: 'completed', CallDuration: '40' }, 'CallSid'],
      [{ CallSid: call.callSid, CallStatus: 'completed', CallDuration: 'abc' }, 'CallDuration'],
      [{ CallSid: call.callSid, CallStatus: 'completed', CallDuration: '-5' }, 'CallDuration'],
      [{ CallSid: call.callSid, CallStatus: 'ringing', SequenceNumber: 'x' }, 'SequenceNumber'],
      [{ CallSid: call.callSid, DialCallStatus: 'completed', DialCallDuration: '1.5' }, 'DialCallDuration'],
      [{ CallSid: callSid(), ParentCallSid: 'nope', CallStatus: 'completed', CallDuration: '10' }, 'ParentCallSid'],
    ];
    for (const [params, field] of cases) {
      const r = await gw.twilio('/twilio/status', params);
      expect(r.status, JSON.stringify(params)).toBe(400);
      expect(r.text).toContain(field);
    }
    const v = await gw.twilio('/twilio/voice', { From: `client:${acct.identity}`, To: '+14155550100' });
    expect(v.status).toBe(400);
    expect(v.text).toContain('CallSid');
    expect(await snapshot()).toEqual(before);
  });
});

describe('authentication', () => {
  it('401 without credentials, 403 for a staff token of another account', async () => {
    expect((await fetch(`${gw.url}/v1/accounts/${acct.id}/balance`)).status).toBe(401);
    expect((await gw.as('garbage', 'GET', `/v1/accounts/${acct.id}/balance`)).status).toBe(401);
    const other = await createAccount(gw);
    const tok = (await gw.admin('POST', `/v1/accounts/${other.id}/staff/alice/token`)).json.token;
    const r = await gw.as(tok, 'GET', `/v1/accounts/${acct.id}/balance`);
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('FORBIDDEN');
    for (const p of ['ledger', 'calls']) expect((await gw.as(tok, 'GET', `/v1/accounts/${acct.id}/${p}`)).status).toBe(403);
    expect((await gw.as(tok, 'POST', `/v1/accounts/${other.id}/adjustments`, { minutes: 100, reason: 'self-service' })).status).toBe(403);
  });
});

it('the process is still healthy after all of it', async () => {
  expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
});
