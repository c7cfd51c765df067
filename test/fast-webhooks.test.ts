// Session 19 (issue #22): Twilio's form POSTs are served by the fast path
// (src/http/fast-webhooks.ts) before the app sees them; every other shape still goes to
// the app. The two doors must answer alike: the same TwiML, status codes, JSON errors,
// request id, security headers and metrics. A chunked body (no Content-Length) is the
// way to send the same signed webhook through the app's door.
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { placeSoftphoneCall, dialAction } from './support/calls.js';
import { callSid, createAccount, PUBLIC_BASE_URL, startTestGateway, TEST_AUTH_TOKEN, type TestGateway } from './support/gateway.js';
import { signForm } from './support/twilio-sign.js';

let gw: TestGateway;
let identity: string;
beforeAll(async () => {
  gw = await startTestGateway();
  const account = await createAccount(gw, { monthlyMinutes: 100 });
  identity = account.identity;
});
afterAll(async () => {
  await gw?.stop();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** POSTs a form to `path`, with its length declared (fast door) or chunked (the app's). */
function post(path: string, body: string, headers: Record<string, string>, door: 'fast' | 'app'): Promise<Answer> {
  const u = new URL(gw.url + path);
  return new Promise((resolve, reject) => {
    const h: Record<string, string> = { ...headers };
    if (door === 'fast') h['content-length'] = String(Buffer.byteLength(body));
    else h['transfer-encoding'] = 'chunked';
    const req = request({ host: u.hostname, port: u.port, path, method: 'POST', headers: h, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    if (door === 'app') {
      // Two chunks, so it really is streamed.
      req.write(body.slice(0, 10));
      req.end(body.slice(10));
    } else req.end(body);
  });
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function signedVoice(sid = callSid()) {
  const params = { CallSid: sid, AccountSid: 'AC' + '0'.repeat(32), From: `client:${identity}`, To: '+14155550123', Direction: 'inbound', CallStatus: 'ringing' };
  return signForm(TEST_AUTH_TOKEN, `${PUBLIC_BASE_URL}/twilio/voice`, params);
}

async function counter(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const line = text.split('\n').find((l) => (labels ? l.startsWith(`${name}{`) && labels.split(',').every((kv) => l.includes(kv)) : l.startsWith(`${name} `)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

const shared = (a: Answer) => ({
  status: a.status,
  type: a.headers['content-type'],
  nosniff: a.headers['x-content-type-options'],
  referrer: a.headers['referrer-policy'],
  hsts: a.headers['strict-transport-security'],
  requestId: typeof a.headers['x-request-id'],
});

describe('the fast path and the app answer a webhook alike', () => {
  it('a voice webhook: the same <Dial> shape, headers and request id through both doors', async () => {
    const before = await counter('minutegate_http_requests_total', 'route="/twilio/voice",method="POST",status="200"');
    const answers: Answer[] = [];
    for (const door of ['fast', 'app'] as const) {
      const { body, signature } = signedVoice();
      answers.push(await post('/twilio/voice', body, { ...FORM, 'x-twilio-signature': signature, 'x-request-id': `req-${door}` }, door));
    }
    const [fast, app] = answers as [Answer, Answer];
    expect(shared(fast)).toEqual(shared(app));
    expect(fast.status).toBe(200);
    expect(fast.headers['content-type']).toBe('text/xml; charset=utf-8');
    expect(fast.headers['x-content-type-options']).toBe('nosniff');
    expect(fast.headers['strict-transport-security']).toMatch(/max-age=/); // PUBLIC_BASE_URL is https
    expect(fast.headers['x-request-id']).toBe('req-fast');
    expect(app.headers['x-request-id']).toBe('req-app');
    // The same TwiML but for the call it is about.
    expect(fast.body).toMatch(/<Dial action="[^"]+\/twilio\/status\?a=/);
    expect(fast.body.replace(/CA[0-9a-f]{32}/g, 'CA…')).toBe(app.body.replace(/CA[0-9a-f]{32}/g, 'CA…'));
    // Both counted under the same route label.
    expect(await counter('minutegate_http_requests_total', 'route="/twilio/voice",method="POST",status="200"')).toBe(before + 2);
  });

  it('a request id that is not sane is replaced by a fresh one on the fast path too', async () => {
    const { body, signature } = signedVoice();
    const a = await post('/twilio/voice', body, { ...FORM, 'x-twilio-signature': signature, 'x-request-id': 'bad id; <script>' }, 'fast');
    expect(a.status).toBe(200);
    expect(a.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a bad signature: the same 403 JSON error from both doors, each counted', async () => {
    const before = await counter('minutegate_twilio_signature_failures_total', '');
    const answers: Answer[] = [];
    for (const door of ['fast', 'app'] as const) {
      const { body } = signedVoice();
      answers.push(await post('/twilio/voice', body, { ...FORM, 'x-twilio-signature': 'A'.repeat(27) + '=' }, door));
    }
    for (const a of answers) {
      expect(a.status).toBe(403);
      expect(a.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(a.body)).toEqual({ error: { code: 'BAD_SIGNATURE', message: 'X-Twilio-Signature does not match' } });
      expect(a.headers['x-content-type-options']).toBe('nosniff');
    }
    expect(await counter('minutegate_twilio_signature_failures_total', '')).toBe(before + 2);
  });

  it('bad input after a good signature (no CallSid): the same 400 from both doors', async () => {
    const answers: Answer[] = [];
    for (const door of ['fast', 'app'] as const) {
      const { body, signature } = signForm(TEST_AUTH_TOKEN, `${PUBLIC_BASE_URL}/twilio/voice`, { From: `client:${identity}`, To: '+14155550123' });
      answers.push(await post('/twilio/voice', body, { ...FORM, 'x-twilio-signature': signature }, door));
    }
    expect(answers[0]!.status).toBe(400);
    expect(answers[0]!.body).toBe(answers[1]!.body);
    expect(JSON.parse(answers[0]!.body).error.code).toBe('VALIDATION_FAILED');
  });

  it("a <Dial action> with the account in its query is recorded through the fast path, once", async () => {
    const { callSid: parent, twiml } = await placeSoftphoneCall(gw, identity, '+14155550123');
    const action = /<Dial action="([^"]+)"/.exec(twiml)![1]!.replace(/&amp;/g, '&');
    const path = action.slice(PUBLIC_BASE_URL.length);
    const params = dialAction(parent, callSid(), 'completed', 65) as Record<string, string>;
    const before = await counter('minutegate_call_signals_total', 'outcome="finalized"');
    const { body, signature } = signForm(TEST_AUTH_TOKEN, action, params);
    const first = await post(path, body, { ...FORM, 'x-twilio-signature': signature }, 'fast');
    const again = await post(path, body, { ...FORM, 'x-twilio-signature': signature }, 'app');
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(first.body).toBe(again.body);
    expect(await counter('minutegate_call_signals_total', 'outcome="finalized"')).toBe(before + 1);
  });

  it('what the fast path does not take still gets the app: an oversized declared body (413), a JSON body (415), a GET (404)', async () => {
    const big = 'x='.padEnd(70 * 1024, 'y');
    const tooLarge = await post('/twilio/voice', big, { ...FORM }, 'fast');
    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(tooLarge.body).error.code).toBe('PAYLOAD_TOO_LARGE');
    const json = await post('/twilio/status', '{}', { 'content-type': 'application/json' }, 'fast');
    expect(json.status).toBe(415);
    const get = await fetch(`${gw.url}/twilio/voice`);
    expect(get.status).toBe(404);
  });

  it('a client that goes away mid-body gets nothing and breaks nothing', async () => {
    const { body, signature } = signedVoice();
    await new Promise<void>((resolve, reject) => {
      const sock = connect(Number(new URL(gw.url).port), '127.0.0.1', () => {
        sock.write(
          `POST /twilio/voice HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
            `X-Twilio-Signature: ${signature}\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 20)}`,
        );
        setTimeout(() => {
          sock.destroy();
          resolve();
        }, 50);
      });
      sock.on('error', reject);
    });
    const next = signedVoice();
    const after = await post('/twilio/voice', next.body, { ...FORM, 'x-twilio-signature': next.signature }, 'fast');
    expect(after.status).toBe(200);
    expect(after.body).toContain('<Dial');
  });
});

describe('which requests the fast path takes', () => {
  // The fast path alone in front of a stand-in app that answers 599, with real signature
  // checks; the metering behind it is never reached (every request here is refused for its
  // signature or passed on), so none is built.
  let url: string;
  let server: import('node:http').Server;
  beforeAll(async () => {
    const { createServer } = await import('node:http');
    const { fastWebhooks } = await import('../src/http/fast-webhooks.js');
    const { TwilioSignatures, TwilioWebhooks } = await import('../src/twilio/webhooks.js');
    const { gatewayMetrics, Metrics } = await import('../src/metrics.js');
    const { createLogger } = await import('../src/log.js');
    const metrics = gatewayMetrics(new Metrics());
    const unreachable = new Proxy({}, { get: () => { throw new Error('metering reached'); } });
    const hooks = new TwilioWebhooks(new TwilioSignatures(TEST_AUTH_TOKEN, PUBLIC_BASE_URL, metrics), {
      calls: unreachable as never, video: unreachable as never, publicBaseUrl: PUBLIC_BASE_URL, metrics, mediaStreams: false, mediaTokenKey: Buffer.alloc(32),
    });
    const fast = fastWebhooks({ hooks, log: createLogger('error', () => {}), metrics, https: true, maxBodyBytes: 1024 });
    server = createServer((req, res) => {
      if (fast(req, res)) return;
      req.resume();
      req.on('end', () => res.writeHead(599).end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const send = (path: string, body: string, headers: Record<string, string>, door: 'fast' | 'app' = 'fast') =>
    new Promise<number>((resolve, reject) => {
      const h = { ...headers, ...(door === 'fast' ? { 'content-length': String(Buffer.byteLength(body)) } : { 'transfer-encoding': 'chunked' }) };
      const req = request(`${url}${path}`, { method: 'POST', headers: h, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(body);
    });
  const unsigned = { ...FORM, 'x-twilio-signature': 'A'.repeat(27) + '=' };

  it('takes a form POST of declared length to /twilio/voice, /twilio/status and /twilio/video/status, query or not', async () => {
    for (const path of ['/twilio/voice', '/twilio/status', '/twilio/status?a=acct1', '/twilio/video/status']) {
      expect(await send(path, 'CallSid=CA1', unsigned), path).toBe(403);
    }
  });

  it('passes on every other shape: chunked, over the limit, not a form, another path or method', async () => {
    expect(await send('/twilio/voice', 'CallSid=CA1', unsigned, 'app')).toBe(599);
    expect(await send('/twilio/voice', 'x='.padEnd(2000, 'y'), unsigned)).toBe(599);
    expect(await send('/twilio/voice', '{}', { 'content-type': 'application/json' })).toBe(599);
    expect(await send('/twilio/voice/', 'CallSid=CA1', unsigned)).toBe(599);
    expect(await send('/twilio/media/x', 'CallSid=CA1', unsigned)).toBe(599);
    expect(await send('/v1/accounts', 'CallSid=CA1', unsigned)).toBe(599);
    const put = await new Promise<number>((resolve) => {
      const req = request(`${url}/twilio/voice`, { method: 'PUT', headers: { ...unsigned, 'content-length': '3' }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.end('a=b');
    });
    expect(put).toBe(599);
  });
});
