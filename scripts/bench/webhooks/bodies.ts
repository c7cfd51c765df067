// Twilio's request bodies for the webhook bench, signed as Twilio signs them: each over
// the URL it is sent to, the public base plus its `path` (a callback's is the one the
// gateway's TwiML named, with its query: see publicPath).
import { computeTwilioSignature } from '../../../src/twilio/signature.js';
import { APP_STATUS_PATH } from '../../simulate/twiml-urls.js';
import { softphoneCallParams } from '../lib/identity.js';
import { PUBLIC_BASE_URL, hex } from '../lib/util.js';
import { DIAL_SECONDS, ID, IDENTITY, NUMBER, VOICE_PATH } from './context.js';

export interface SignedBody {
  sid: string;
  /** Where it goes: path and query under the public base, which the signature covers. */
  path: string;
  body: string;
  signature: string;
}

/** A URL the gateway named (its TwiML's action or statusCallback, unescaped) as the path
 *  and query the bench sends to; it must be under the bench's public base. */
export function publicPath(url: string): string {
  if (!url.startsWith(`${PUBLIC_BASE_URL}/`)) throw new Error(`the gateway named a URL outside the public base ${PUBLIC_BASE_URL}: ${url}`);
  return url.slice(PUBLIC_BASE_URL.length);
}

const signed = (sid: string, path: string, params: Record<string, string>): SignedBody => ({
  sid,
  path,
  body: encodeForm(params),
  signature: computeTwilioSignature(ID.authToken, PUBLIC_BASE_URL + path, params),
});

const SID_BASE = hex(8); // 16 hex digits + a 16-digit counter = a 32-hex-digit CallSid
const DIAL_SID_BASE = hex(8);
let sidCounter = 0;
let dialSidCounter = 0;
const nextCallSid = () => `CA${SID_BASE}${(++sidCounter).toString(16).padStart(16, '0')}`;
export const nextDialSid = () => `CA${DIAL_SID_BASE}${(++dialSidCounter).toString(16).padStart(16, '0')}`;

function encodeForm(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

/** Voice URL request of a Voice SDK softphone through the TwiML App: Twilio's own
 *  parameters plus the custom ones the softphone passes to device.connect(). 17 params. */
export function voiceBody(): SignedBody {
  const sid = nextCallSid();
  const params: Record<string, string> = {
    ...softphoneCallParams(ID, sid, 'ringing', IDENTITY),
    CallerId: NUMBER,
    Direction: 'inbound',
    From: `client:${IDENTITY}`,
    To: `+1415${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`,
    SdkVersion: '2.12.3',
    Platform: 'browser',
    DeviceId: 'dev_7f3c2a9e41b8',
    CustomerRef: 'CRM-0042-1187',
    TicketId: 'T-58213',
    RecordingConsent: 'granted',
  };
  return signed(sid, VOICE_PATH, params);
}

/** The <Dial action> request of an answered call that talked 95 s, to `actionPath` (the
 *  <Dial action> URL of the call's TwiML, publicPath). 14 params. */
export function dialActionBody(sid: string, actionPath: string, dialSid: string = nextDialSid()): SignedBody {
  const params: Record<string, string> = {
    ...softphoneCallParams(ID, sid, 'in-progress', IDENTITY),
    Direction: 'inbound',
    From: `client:${IDENTITY}`,
    To: '+14155550100',
    DialCallStatus: 'completed',
    DialCallSid: dialSid,
    DialCallDuration: String(DIAL_SECONDS),
    DialBridged: 'true',
  };
  return signed(sid, actionPath, params);
}

/** A status callback of the dialled leg, to `callbackPath` (the <Number>'s statusCallback
 *  URL, publicPath): initiated, ringing, in-progress, completed (with its duration), in
 *  Twilio's shape. */
export function legStatusBody(parentSid: string, legSid: string, seq: number, status: string, callbackPath: string): SignedBody {
  const params: Record<string, string> = {
    AccountSid: ID.twAccountSid,
    ApiVersion: '2010-04-01',
    CallSid: legSid,
    CallStatus: status,
    Called: '+14155550100',
    Caller: NUMBER,
    Direction: 'outbound-dial',
    From: NUMBER,
    ParentCallSid: parentSid,
    To: '+14155550100',
    SequenceNumber: String(seq),
    CallbackSource: 'call-progress-events',
    Timestamp: new Date().toUTCString(),
  };
  if (status === 'completed') {
    params.CallDuration = String(DIAL_SECONDS);
    params.Duration = String(Math.ceil(DIAL_SECONDS / 60));
  }
  return signed(parentSid, callbackPath, params);
}

/** The parent call's own final status callback, to the TwiML App's configured Status
 *  Callback (no query: the gateway looks the call up), which Twilio sends after the
 *  <Dial action> has been answered. */
export function parentCompletedBody(sid: string): SignedBody {
  const params: Record<string, string> = {
    ...softphoneCallParams(ID, sid, 'completed', IDENTITY),
    Direction: 'inbound',
    From: `client:${IDENTITY}`,
    To: '+14155550100',
    CallDuration: String(DIAL_SECONDS + 5),
    Duration: String(Math.ceil((DIAL_SECONDS + 5) / 60)),
    CallbackSource: 'call-progress-events',
    Timestamp: new Date().toUTCString(),
  };
  return signed(sid, APP_STATUS_PATH, params);
}

/**
 * Signs request bodies ahead of a measured run, so the load generator spends the run
 * sending rather than HMAC-ing (it shares the 2 cores with the server it measures); it
 * falls back to signing on the fly should a run outlast the pool.
 */
export function pooled(gen: () => SignedBody, n: number): () => SignedBody {
  const pool = Array.from({ length: n }, gen);
  let i = 0;
  return () => (i < pool.length ? pool[i++]! : gen());
}

/** Per second of run, more than either server answers on this machine. */
export const POOL_PER_SECOND = 16_000;
