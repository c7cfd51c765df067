// The demo's Twilio: a small HTTP + WebSocket server that `npm run demo` runs beside the
// gateway (never a route of the gateway, never started anywhere else), so the softphone
// page dials for real without a Twilio account. It plays Twilio's part of a call:
//
//   - the page's demo Device (web/phone/demo-device.ts) opens a socket here and sends the
//     Voice SDK access token the gateway minted plus connect()'s params; the token is
//     checked as Twilio checks it (HS256 with the run's API key secret, its account, its
//     TwiML App), and its identity becomes the call's From (client:<identity>);
//   - it POSTs the TwiML App's voice webhook to the gateway, signed with the gateway's
//     TWILIO_AUTH_TOKEN exactly as Twilio signs (scripts/simulate's GatewayClient), with the
//     custom params (To, authorizationId) as form fields;
//   - it follows the TwiML: a <Reject> ends the call; a <Dial> gets its leg's initiated and
//     ringing callbacks, rings a moment, is answered (in-progress), and talks until the page
//     hangs up (or its socket drops, as a WebRTC leg does); then the leg's completed
//     callback, the <Dial action> and the parent's completion, each with the talk time
//     measured on this server's clock: a call lasts as long as it appears to;
//   - it answers the REST reads the gateway makes of Twilio (reconciliation, the audit) for
//     the calls it placed, with Basic auth of the run's API key.
//
// Everything Twilio-shaped is generated for the run (demoTwilioSettings): no real SID or
// secret exists, and nothing leaves the machine.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { GatewayClient } from '../simulate/gateway-client.js';
import { dialLegSignal } from '../simulate/scenario.js';
import { APP_STATUS_PATH, readTwiml } from '../simulate/twiml-urls.js';

export interface DemoTwilioSettings {
  accountSid: string;
  apiKeySid: string;
  apiKeySecret: string;
  twimlAppSid: string;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** A Twilio account, API key and TwiML App made up for this run only. */
export function demoTwilioSettings(): DemoTwilioSettings {
  return { accountSid: `AC${hex(16)}`, apiKeySid: `SK${hex(16)}`, apiKeySecret: randomBytes(24).toString('base64url'), twimlAppSid: `AP${hex(16)}` };
}

/** The gateway's settings for the demo's Twilio: voice tokens are minted with the made-up
 *  key, and its REST reads (reconciliation, audit; Video too) go to the fake server. */
export function demoTwilioEnv(s: DemoTwilioSettings, fakeUrl: string): Record<string, string> {
  return {
    TWILIO_ACCOUNT_SID: s.accountSid,
    TWILIO_API_KEY_SID: s.apiKeySid,
    TWILIO_API_KEY_SECRET: s.apiKeySecret,
    TWILIO_TWIML_APP_SID: s.twimlAppSid,
    TWILIO_API_BASE_URL: fakeUrl,
    TWILIO_VIDEO_API_BASE_URL: fakeUrl,
  };
}

export interface FakeTwilioOptions {
  settings: DemoTwilioSettings;
  /** The gateway's TWILIO_AUTH_TOKEN: every webhook is signed with it. */
  authToken: string;
  /** Twilio's clock: timestamps and talk time are read on it. Default Date.now; a test
   *  may run it ahead to make a few real seconds count as a longer call. */
  clock?: () => number;
  /** How long the number rings before it answers (ms). */
  ringMs?: number;
  host?: string;
  port?: number;
  /** One line per call, for the demo's console. */
  say?: (line: string) => void;
}

/** A call (parent or dialled leg) as Twilio's REST API reports it. */
export interface FakeCallRecord {
  sid: string;
  parentCallSid: string | null;
  from: string;
  to: string;
  status: string;
  startTime: number;
  endTime: number | null;
  /** Seconds, once it ended. */
  duration: number | null;
}

export interface FakeTwilio {
  /** The origin the page's demo Device connects to (http://host:port). */
  url: string;
  /** Where Twilio's requests go: the gateway's address, and the base its signatures are
   *  computed over (the gateway's PUBLIC_BASE_URL; default: the address itself). */
  attach(gateway: { url: string; publicBaseUrl?: string }): void;
  /** Every call placed so far (parents and legs), oldest first. */
  calls(): FakeCallRecord[];
  close(): Promise<void>;
}

type DeviceMessage = { type: 'invite'; token: string; params: Record<string, string> } | { type: 'hangup' };

/** Custom params a client may pass (Twilio forwards them as form fields): plain names, short
 *  values, never one of the fields Twilio itself sets. */
const PARAM_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const TWILIO_FIELDS = new Set(['AccountSid', 'ApiVersion', 'ApplicationSid', 'CallSid', 'CallStatus', 'Direction', 'From', 'Caller', 'Called']);

/** The identity in a Voice SDK access token, if Twilio would take it: HS256 under the API
 *  key secret, issued by the API key for the account, unexpired, for the TwiML App. */
export function identityOf(token: string, s: DemoTwilioSettings, now = Date.now()): string | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const [h, p, sig] = parts as [string, string, string];
  const expected = createHmac('sha256', s.apiKeySecret).update(`${h}.${p}`).digest();
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    if (header.alg !== 'HS256' || claims.iss !== s.apiKeySid || claims.sub !== s.accountSid) return null;
    if (typeof claims.exp !== 'number' || claims.exp * 1000 <= now) return null;
    if (claims.grants?.voice?.outgoing?.application_sid !== s.twimlAppSid) return null;
    return typeof claims.grants.identity === 'string' && claims.grants.identity ? claims.grants.identity : null;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const API_VERSION = '2010-04-01';

export async function startFakeTwilio(opts: FakeTwilioOptions): Promise<FakeTwilio> {
  const s = opts.settings;
  const clock = opts.clock ?? Date.now;
  const ringMs = opts.ringMs ?? 2000;
  const say = opts.say ?? (() => {});
  const records: FakeCallRecord[] = [];
  /** Calls being played: close() lets them end properly. */
  const active = new Set<Promise<void>>();
  let gateway: GatewayClient | null = null;
  let publicBase = '';

  /** POSTs a webhook to a URL the gateway named (its TwiML), signed over that URL. */
  const post = async (url: string, params: Record<string, string>) => {
    if (!gateway) throw new Error('the fake Twilio is not attached to a gateway');
    if (!url.startsWith(`${publicBase}/`)) throw new Error(`the gateway named a URL outside its base: ${url}`);
    return gateway.twilio(url.slice(publicBase.length), params);
  };

  const base = { AccountSid: s.accountSid, ApiVersion: API_VERSION };
  const sid = () => `CA${hex(16)}`;

  /** One call from the socket's first message to its end. */
  async function place(ws: WebSocket, identity: string, params: Record<string, string>, hungUp: Promise<void>, isHungUp: () => boolean) {
    const send = (m: object) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(m));
    const from = `client:${identity}`;
    const to = params.To ?? '';
    const parent: FakeCallRecord = { sid: sid(), parentCallSid: null, from, to, status: 'ringing', startTime: clock(), endTime: null, duration: null };
    records.push(parent);
    const custom = Object.fromEntries(Object.entries(params).filter(([k, v]) => PARAM_NAME.test(k) && !TWILIO_FIELDS.has(k) && typeof v === 'string' && v.length <= 256));
    const end = (status: string) => {
      parent.status = status;
      parent.endTime = clock();
      parent.duration = Math.max(0, Math.round((parent.endTime - parent.startTime) / 1000));
    };

    const voice = await post(`${publicBase}/twilio/voice`, {
      ...base, ...custom, CallSid: parent.sid, CallStatus: 'ringing', Direction: 'inbound', From: from, Caller: from, ApplicationSid: s.twimlAppSid,
    });
    const twiml = voice.status === 200 ? readTwiml(voice.text) : null;
    if (!twiml || twiml.kind !== 'dial') {
      end(twiml?.kind === 'reject' ? 'busy' : 'failed');
      const why = !twiml ? `the gateway answered the voice webhook with ${voice.status}` : twiml.kind === 'reject' ? 'the gateway refused the call (<Reject>)' : 'the gateway answered without a <Dial>';
      send({ type: 'rejected', callSid: parent.sid, message: why });
      say(`  ☎  softphone call from ${identity} to ${to}: not placed, ${why}`);
      return;
    }
    parent.status = 'in-progress';
    const leg: FakeCallRecord = { sid: sid(), parentCallSid: parent.sid, from, to: twiml.to, status: 'initiated', startTime: clock(), endTime: null, duration: null };
    records.push(leg);
    const legSignal = (seq: number, status: string, duration?: number) =>
      post(twiml.statusCallback, dialLegSignal({ accountSid: s.accountSid, parentCallSid: parent.sid, callSid: leg.sid, seq, status, at: clock(), duration }));
    await legSignal(0, 'initiated');
    leg.status = 'ringing';
    await legSignal(1, 'ringing');
    send({ type: 'ringing', callSid: parent.sid });

    await Promise.race([sleep(ringMs), hungUp]);
    let talk = 0;
    if (isHungUp()) {
      // The caller gave up while it rang: the leg is canceled, nothing was said.
      leg.status = 'canceled';
      leg.endTime = clock();
      leg.duration = 0;
      await legSignal(2, 'canceled', 0);
    } else {
      leg.status = 'in-progress';
      await legSignal(2, 'in-progress');
      const answeredAt = clock();
      send({ type: 'accepted', callSid: parent.sid });
      await hungUp;
      talk = Math.max(0, Math.round((clock() - answeredAt) / 1000));
      leg.status = 'completed';
      leg.endTime = clock();
      leg.duration = talk;
      await legSignal(3, 'completed', talk);
    }
    const answered = leg.status === 'completed';
    await post(twiml.action, {
      ...base, CallSid: parent.sid, CallStatus: 'completed', From: from, To: to, DialCallSid: leg.sid,
      DialCallStatus: answered ? 'completed' : 'canceled', DialCallDuration: String(talk), DialBridged: String(answered),
    });
    end('completed');
    // The TwiML App's status callback: the parent call is over.
    await post(`${publicBase}${APP_STATUS_PATH}`, {
      ...base, CallSid: parent.sid, CallStatus: 'completed', Direction: 'inbound', From: from, To: to,
      CallDuration: String(parent.duration), Timestamp: new Date(parent.endTime!).toUTCString(),
    });
    send({ type: 'ended', callSid: parent.sid, talkSeconds: talk });
    say(`  ☎  softphone call from ${identity} to ${to}: ${answered ? `talked ${talk} s` : 'hung up while ringing'}`);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 });
  wss.on('connection', (ws) => {
    let resolveHangUp!: () => void;
    let hungUp = false;
    const hangUp = new Promise<void>((r) => (resolveHangUp = r));
    const stop = () => {
      hungUp = true;
      resolveHangUp();
    };
    let invited = false;
    // A dropped socket is a dropped WebRTC leg: the call ends as if hung up.
    ws.on('close', stop);
    // A broken frame closes the socket (and so ends the call); it never stops the demo.
    ws.on('error', () => ws.terminate());
    ws.on('message', (data) => {
      let m: DeviceMessage;
      try {
        m = JSON.parse(String(data)) as DeviceMessage;
      } catch {
        ws.close(1008, 'not JSON');
        return;
      }
      if (m.type === 'hangup') return stop();
      if (m.type !== 'invite' || invited) return void ws.close(1008, 'one invite per socket');
      invited = true;
      const identity = typeof m.token === 'string' ? identityOf(m.token, s) : null;
      if (!identity) {
        ws.send(JSON.stringify({ type: 'rejected', message: 'the access token is not valid for this Twilio account (AccessTokenInvalid 20101)' }));
        return void ws.close(1000);
      }
      const params = m.params && typeof m.params === 'object' ? m.params : {};
      const call = place(ws, identity, params, hangUp, () => hungUp)
        .catch((err: Error) => {
          say(`  !  softphone call failed: ${err.message}`);
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'rejected', message: `the demo's Twilio could not reach the gateway: ${err.message}` }));
        })
        .finally(() => {
          active.delete(call);
          if (ws.readyState === ws.OPEN) ws.close(1000);
        });
      active.add(call);
    });
  });

  const asJson = (r: FakeCallRecord) => ({
    sid: r.sid,
    account_sid: s.accountSid,
    parent_call_sid: r.parentCallSid,
    from: r.from,
    to: r.to,
    status: r.status,
    start_time: new Date(r.startTime).toUTCString(),
    end_time: r.endTime === null ? null : new Date(r.endTime).toUTCString(),
    duration: r.duration === null ? null : String(r.duration),
  });

  /** Twilio's REST reads: one call, a parent's legs, the calls started on some UTC days. */
  const rest = (req: IncomingMessage, res: ServerResponse) => {
    const reply = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const auth = req.headers.authorization ?? '';
    const expected = `Basic ${Buffer.from(`${s.apiKeySid}:${s.apiKeySecret}`).toString('base64')}`;
    if (auth !== expected) return reply(401, { code: 20003, message: 'Authenticate', status: 401 });
    const u = new URL(req.url ?? '/', 'http://fake');
    const prefix = `/${API_VERSION}/Accounts/${s.accountSid}/Calls`;
    const one = u.pathname.startsWith(`${prefix}/`) && u.pathname.endsWith('.json') ? u.pathname.slice(prefix.length + 1, -5) : null;
    if (req.method === 'GET' && one) {
      const r = records.find((c) => c.sid === one);
      return r ? reply(200, asJson(r)) : reply(404, { code: 20404, message: `The requested resource ${u.pathname} was not found`, status: 404 });
    }
    if (req.method === 'GET' && u.pathname === `${prefix}.json`) {
      const parentSid = u.searchParams.get('ParentCallSid');
      const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
      const after = u.searchParams.get('StartTime>');
      const before = u.searchParams.get('StartTime<');
      const calls = records.filter(
        (c) => (parentSid === null || c.parentCallSid === parentSid) && (!after || day(c.startTime) >= after) && (!before || day(c.startTime) <= before),
      );
      return reply(200, { calls: calls.reverse().map(asJson), next_page_uri: null, page: 0, page_size: calls.length });
    }
    reply(404, { code: 20404, message: `The requested resource ${u.pathname} was not found`, status: 404 });
  };

  const server = createServer(rest);
  server.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://fake').pathname !== '/v1/device') return void socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.address === '0.0.0.0' || addr.address === '::' ? '127.0.0.1' : addr.address;

  return {
    url: `http://${host}:${addr.port}`,
    attach(gw) {
      publicBase = (gw.publicBaseUrl ?? gw.url).replace(/\/+$/, '');
      gateway = new GatewayClient(gw.url.replace(/\/+$/, ''), publicBase, opts.authToken, '');
    },
    calls: () => records.map((r) => ({ ...r })),
    /** Hangs up every call in progress and lets its last webhooks reach the gateway (3 s
     *  at most), then stops: the gateway should still be up when this is called. */
    close: async () => {
      for (const ws of wss.clients) ws.close(1001, 'the demo is stopping');
      await Promise.race([Promise.allSettled([...active]), sleep(3000)]);
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
