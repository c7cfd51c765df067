// The Twilio webhooks' work, apart from any HTTP framework: verify a form POST's
// X-Twilio-Signature, then answer /twilio/voice with TwiML and record a /twilio/status (or
// video) signal. Two front doors use it — the Hono routes (webhook-routes.ts), which take
// every shape of request, and the fast path (http/fast-webhooks.ts), which takes the one
// shape Twilio sends on the hot path — so both answer alike by construction.
// Redis failures fail closed (R14): voice answers <Reject>, a signal a 503 so Twilio (or
// reconciliation) tries again. Bad input is an AppError (a 4xx), whichever door it came in.
import { AppError } from '../domain/errors.js';
import { isStorageFailure } from '../domain/storage-failure.js';
import { errorBody } from '../http/json.js';
import type { Logger } from '../log.js';
import type { CallMetering } from '../metering/calls.js';
import type { VideoMetering } from '../metering/video.js';
import type { GatewayMetrics } from '../metrics.js';
import { ACCOUNT_PARAM, statusCallbackUrl } from './callback-url.js';
import { mintMediaToken } from './media-token.js';
import { mediaStreamUrl, requestBase } from './public-url.js';
import { signedParamsFromForm, validateTwilioSignature, type TwilioParams } from './signature.js';
import { dialTwiml, EMPTY_RESPONSE, rejectTwiml } from './twiml.js';

/** A webhook's answer: TwiML (`json: false`) or a JSON error body. */
export interface TwilioAnswer {
  status: number;
  body: string;
  json: boolean;
}

/** The answers' content types: TwiML, or a JSON error. */
export const XML_TYPE = 'text/xml; charset=utf-8';
export const JSON_TYPE = 'application/json';

/** A form-encoded body's Content-Type, the one Twilio signs parameter by parameter. */
export const FORM_TYPE = /^application\/x-www-form-urlencoded\b/i;

/** The signal routes, by the path under /twilio they are served on. */
export type SignalRoute = 'status' | 'video/status';

/** No query: a GET's (its query is Twilio's parameters), or a URL without one. */
export const NO_QUERY: Record<string, string> = Object.freeze(Object.create(null));

/** The query of a request path or URL, flat (a repeated name keeps its first value); a
 *  null-prototype record, so names like `__proto__` are plain keys. */
export function queryOf(url: string): Record<string, string> {
  const q = url.indexOf('?');
  if (q === -1 || q === url.length - 1) return NO_QUERY;
  const out: Record<string, string> = Object.create(null);
  for (const [name, value] of new URLSearchParams(url.slice(q + 1))) if (!(name in out)) out[name] = value;
  return out;
}

/** Signed parameters, flat: a repeated name keeps its first value (signed all the same). */
export function flatParams(signed: TwilioParams): Record<string, string> {
  const flat: Record<string, string> = Object.create(null);
  for (const k in signed) {
    const v = signed[k]!;
    flat[k] = typeof v === 'string' ? v : v[0]!;
  }
  return flat;
}

export const NOT_CONFIGURED = () =>
  new AppError(503, 'NOT_CONFIGURED', 'TWILIO_AUTH_TOKEN is not configured, so Twilio requests cannot be verified');

/** X-Twilio-Signature, checked over the public URL Twilio called (the public base, or this
 *  request's Host only without PUBLIC_BASE_URL, plus the path and query as received). */
export class TwilioSignatures {
  constructor(
    /** Null: not configured, so nothing can be verified (503, never a pass). */
    readonly authToken: string | null,
    private readonly publicBaseUrl: string | null,
    private readonly metrics: Pick<GatewayMetrics, 'signatureFailures'>,
  ) {}

  signedUrl(host: string | undefined, pathAndQuery: string): string {
    return requestBase(this.publicBaseUrl, host) + pathAndQuery;
  }

  /** A form POST's parameters once its signature matches the URL and body; a 403 (counted)
   *  when it does not, a 503 when no auth token is configured to check it with. */
  verifyForm(url: string, signature: string | undefined, body: string): TwilioParams {
    if (!this.authToken) throw NOT_CONFIGURED();
    const signed = signedParamsFromForm(body);
    if (!validateTwilioSignature(this.authToken, signature, url, signed)) throw this.refused(signature);
    return signed;
  }

  /** The refusal of a request whose signature does not match, counted. */
  refused(signature: string | undefined): AppError {
    this.metrics.signatureFailures.inc();
    return new AppError(403, 'BAD_SIGNATURE', signature ? 'X-Twilio-Signature does not match' : 'X-Twilio-Signature is missing');
  }
}

export interface TwilioWebhookDeps {
  calls: CallMetering;
  video: VideoMetering;
  publicBaseUrl: string | null;
  metrics: GatewayMetrics;
  /** MEDIA_STREAMS on: <Start><Stream> in the TwiML, so the stream marks allowed calls live. */
  mediaStreams: boolean;
  /** Signs each call's stream URL (media-token.ts). */
  mediaTokenKey: Buffer;
}

export class TwilioWebhooks {
  constructor(
    readonly signatures: TwilioSignatures,
    private readonly d: TwilioWebhookDeps,
  ) {}

  /** /twilio/voice: <Dial> for an allowed call, <Reject> for a refused one or when the
   *  decision cannot be made (R14). `host`: the request's Host, for the base without
   *  PUBLIC_BASE_URL. `log`: the request's logger. */
  async voice(p: Record<string, string>, host: string | undefined, log: Logger): Promise<TwilioAnswer> {
    const d0 = this.d;
    try {
      const d = await d0.calls.placeCall(p);
      d0.metrics.authorizations.inc({ decision: d.allow ? 'allowed' : d.reason });
      if (!d.allow) return twiml(rejectTwiml());
      const base = requestBase(d0.publicBaseUrl, host);
      // The call's callbacks name its account (callback-url.ts): no look-up when they come.
      const statusUrl = statusCallbackUrl(base, d.accountId);
      const stream = d0.mediaStreams
        ? { url: mediaStreamUrl(base, mintMediaToken(d0.mediaTokenKey, d.accountId, d.callSid)), parameters: { accountId: d.accountId, callSid: d.callSid } }
        : undefined;
      return twiml(dialTwiml({ statusUrl, callerId: d.callerId, targets: d.targets, stream }));
    } catch (err) {
      if (err instanceof AppError) throw err;
      // Fail closed: a call we cannot meter is not placed (R14). <Reject> costs nothing.
      if (isStorageFailure(err)) d0.metrics.redisErrors.inc({ route: 'voice' });
      d0.metrics.authorizations.inc({ decision: 'unavailable' });
      log.child({ callSid: p.CallSid }).error('voice webhook failed closed', { err });
      return twiml(rejectTwiml());
    }
  }

  /** A signal: 200 <Response/> once recorded; 503 when it could not be recorded, so Twilio
   *  (or reconciliation) tries again. `query`: the POST's URL query (callback-url.ts). */
  async signal(route: SignalRoute, p: Record<string, string>, query: Record<string, string>, log: Logger): Promise<TwilioAnswer> {
    const d = this.d;
    try {
      const outcome =
        route === 'status'
          ? // The account the callback URL names, if it does (a URL from our TwiML); else looked up.
            (await d.calls.recordSignal(p, query[ACCOUNT_PARAM])).outcome
          : // R12: video participants draw from the same pool.
            `video_${await d.video.record(p)}`;
      d.metrics.signals.inc({ outcome });
      if (outcome === 'unknown_call') {
        // With the account its URL named, if any: a wrong one shows here, not as a lost call.
        log.child({ callSid: p.CallSid }).debug('signal about an unknown call', { namedAccount: query[ACCOUNT_PARAM] });
      }
      return twiml(EMPTY_RESPONSE);
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (isStorageFailure(err)) d.metrics.redisErrors.inc({ route });
      log.child({ callSid: p.CallSid ?? p.ParticipantSid }).error('signal not recorded', { err, route });
      return { status: 503, body: JSON.stringify(errorBody('UNAVAILABLE', 'the signal could not be recorded; retry')), json: true };
    }
  }
}

const twiml = (body: string): TwilioAnswer => ({ status: 200, body, json: false });
