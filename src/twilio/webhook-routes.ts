// Twilio-facing HTTP routes, and the Media Streams socket. Every request's
// X-Twilio-Signature is verified over PUBLIC_BASE_URL + path + query before anything else
// happens; there is no switch that turns this off. Redis failures fail closed (R14):
// /twilio/voice answers <Reject>, /twilio/status a 503 so Twilio (or reconciliation) tries again.
import { Hono, type MiddlewareHandler } from 'hono';
import { AppError } from '../domain/errors.js';
import { isStorageFailure } from '../domain/storage-failure.js';
import { errorBody } from '../http/json.js';
import type { Logger } from '../log.js';
import type { CallMetering } from '../metering/calls.js';
import type { VideoMetering } from '../metering/video.js';
import type { GatewayMetrics } from '../metrics.js';
import { onlyUpgrades, socketRoute, unavailableWhile } from '../http/upgrades.js';
import type { StreamBinding } from './media-token.js';
import { MediaStreams } from './media-streams.js';
import { signedParamsFromForm, validateTwilioBodySignature, validateTwilioSignature, type TwilioParams } from './signature.js';
import { mintMediaToken } from './media-token.js';
import { mediaStreamUrl, requestBase } from './public-url.js';
import { dialTwiml, EMPTY_RESPONSE, rejectTwiml } from './twiml.js';
import { ACCOUNT_PARAM, statusCallbackUrl } from './callback-url.js';

type TwilioEnv = {
  Variables: {
    /** Twilio's parameters (a form POST's body, a GET's query), flat. */
    params: Record<string, string>;
    /** A POST's URL query: the gateway's own parameters on a URL it named (callback-url.ts),
     *  signed with the URL. Kept apart from `params`, so that neither can pose as the other. */
    query: Record<string, string>;
    log?: Logger;
    stream: StreamBinding;
    callSid?: string;
  };
};

/** The request's logger (with its request id), bound to the call the signal is about. */
const callLog = (c: { get(k: 'log'): Logger | undefined }, fallback: Logger, sid: string | undefined) =>
  (c.get('log') ?? fallback).child({ callSid: sid });

const XML = { 'content-type': 'text/xml; charset=utf-8' };

const NO_QUERY: Record<string, string> = Object.freeze(Object.create(null));

/** The query of a request URL, flat (a repeated name keeps its first value); a
 *  null-prototype record, so names like `__proto__` are plain keys. */
function queryOf(url: string): Record<string, string> {
  const q = url.indexOf('?');
  if (q === -1 || q === url.length - 1) return NO_QUERY;
  const out: Record<string, string> = Object.create(null);
  for (const [name, value] of new URLSearchParams(url.slice(q + 1))) if (!(name in out)) out[name] = value;
  return out;
}

/**
 * Verifies X-Twilio-Signature and exposes the signed parameters, flat. Form POSTs are
 * signed over URL + sorted params; JSON POSTs over a URL carrying bodySHA256 (the body's
 * hash is checked too); GETs over the URL alone (their params are in the query); a Media
 * Streams upgrade over the wss:// form of the URL (mediaUrlSigned). A POST's URL query is
 * exposed on its own (`query`): a GET's query is Twilio's parameters, mixed with any of
 * ours, so it has none.
 */
export function verifyTwilio(opts: {
  authToken: string | null;
  publicBaseUrl: string | null;
  metrics: GatewayMetrics;
}): MiddlewareHandler<TwilioEnv> {
  return async (c, next) => {
    if (!opts.authToken) {
      throw new AppError(503, 'NOT_CONFIGURED', 'TWILIO_AUTH_TOKEN is not configured, so Twilio requests cannot be verified');
    }
    // The URL Twilio requested: the public base plus the path and query we received.
    const raw = c.req.url;
    const url = requestBase(opts.publicBaseUrl, c.req.header('host')) + raw.slice(raw.indexOf('/', raw.indexOf('//') + 2));
    const signature = c.req.header('x-twilio-signature');
    let signed: TwilioParams = {};
    let valid: boolean;
    if (c.req.method === 'GET' && c.req.header('upgrade')?.toLowerCase() === 'websocket') {
      valid = mediaUrlSigned(opts.authToken, signature, url);
    } else if (c.req.method === 'GET') {
      valid = validateTwilioSignature(opts.authToken, signature, url, signed);
      signed = Object.fromEntries(new URL(raw).searchParams);
    } else {
      const type = c.req.header('content-type') ?? '';
      const body = await c.req.text();
      if (/^application\/x-www-form-urlencoded\b/i.test(type)) {
        signed = signedParamsFromForm(body);
        valid = validateTwilioSignature(opts.authToken, signature, url, signed);
      } else if (/^application\/json\b/i.test(type) && url.includes('bodySHA256=')) {
        valid = validateTwilioBodySignature(opts.authToken, signature, url, body);
      } else {
        throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Twilio webhooks are form-encoded (application/x-www-form-urlencoded)');
      }
    }
    if (!valid) {
      opts.metrics.signatureFailures.inc();
      throw new AppError(403, 'BAD_SIGNATURE', signature ? 'X-Twilio-Signature does not match' : 'X-Twilio-Signature is missing');
    }
    const flat: Record<string, string> = Object.create(null);
    for (const k in signed) {
      const v = signed[k]!;
      flat[k] = typeof v === 'string' ? v : v[0]!;
    }
    c.set('params', flat);
    c.set('query', c.req.method === 'POST' ? queryOf(raw) : NO_QUERY);
    // For the access line (http/access-log.ts): which call this verified request is about.
    if (flat.CallSid !== undefined) c.set('callSid', flat.CallSid);
    await next();
  };
}

/** Twilio signs a stream's wss:// URL (also for a plain-http base behind a proxy or in
 *  development, where the socket itself is ws://), with no parameters; its docs suggest
 *  also accepting the URL with a trailing slash. */
function mediaUrlSigned(authToken: string, signature: string | undefined, httpUrl: string): boolean {
  const rest = httpUrl.replace(/^https?:\/\//, '');
  const candidates = [`wss://${rest}`];
  if (httpUrl.startsWith('http:')) candidates.push(`ws://${rest}`);
  return candidates.some(
    (url) =>
      validateTwilioSignature(authToken, signature, url, {}) ||
      (!url.endsWith('/') && validateTwilioSignature(authToken, signature, `${url}/`, {})),
  );
}

export function twilioRoutes(deps: {
  calls: CallMetering;
  video: VideoMetering;
  authToken: string | null;
  publicBaseUrl: string | null;
  metrics: GatewayMetrics;
  log: Logger;
  /** MEDIA_STREAMS: the stream socket (GET /twilio/media/<token>), and <Start><Stream> in
   *  the TwiML so it marks allowed calls live. Null: neither (the path is a 404). */
  media: MediaStreams | null;
  /** Signs each call's stream URL (media-token.ts). */
  mediaTokenKey: Buffer;
}) {
  const app = new Hono<TwilioEnv>();
  const verify = verifyTwilio(deps);

  app.post('/voice', verify, async (c) => {
    const p = c.get('params');
    try {
      const d = await deps.calls.placeCall(p);
      deps.metrics.authorizations.inc({ decision: d.allow ? 'allowed' : d.reason });
      if (!d.allow) return c.body(rejectTwiml(), 200, XML);
      const base = requestBase(deps.publicBaseUrl, c.req.header('host'));
      // The call's callbacks name its account (callback-url.ts): no look-up when they come.
      const statusUrl = statusCallbackUrl(base, d.accountId);
      const stream = deps.media
        ? { url: mediaStreamUrl(base, mintMediaToken(deps.mediaTokenKey, d.accountId, d.callSid)), parameters: { accountId: d.accountId, callSid: d.callSid } }
        : undefined;
      return c.body(dialTwiml({ statusUrl, callerId: d.callerId, targets: d.targets, stream }), 200, XML);
    } catch (err) {
      if (err instanceof AppError) throw err;
      // Fail closed: a call we cannot meter is not placed (R14). <Reject> costs nothing.
      if (isStorageFailure(err)) deps.metrics.redisErrors.inc({ route: 'voice' });
      deps.metrics.authorizations.inc({ decision: 'unavailable' });
      callLog(c, deps.log, p.CallSid).error('voice webhook failed closed', { err });
      return c.body(rejectTwiml(), 200, XML);
    }
  });

  /** A signal route: 200 <Response/> once recorded; 503 when it could not be recorded, so
   *  Twilio (or reconciliation) tries again. Bad input stays a 4xx (AppError). */
  const signalRoute = (route: string, record: (p: Record<string, string>, query: Record<string, string>) => Promise<string>) =>
    app.post(`/${route}`, verify, async (c) => {
      const p = c.get('params');
      try {
        const outcome = await record(p, c.get('query'));
        deps.metrics.signals.inc({ outcome });
        if (outcome === 'unknown_call') {
          // With the account its URL named, if any: a wrong one shows here, not as a lost call.
          callLog(c, deps.log, p.CallSid).debug('signal about an unknown call', { namedAccount: c.get('query')[ACCOUNT_PARAM] });
        }
        return c.body(EMPTY_RESPONSE, 200, XML);
      } catch (err) {
        if (err instanceof AppError) throw err;
        if (isStorageFailure(err)) deps.metrics.redisErrors.inc({ route });
        callLog(c, deps.log, p.CallSid ?? p.ParticipantSid).error('signal not recorded', { err, route });
        return c.json(errorBody('UNAVAILABLE', 'the signal could not be recorded; retry'), 503);
      }
    });

  // The account the callback URL names, if it does (a URL from our TwiML); else looked up.
  signalRoute('status', async (p, query) => (await deps.calls.recordSignal(p, query[ACCOUNT_PARAM])).outcome);
  // R12: video participants draw from the same pool.
  signalRoute('video/status', async (p) => `video_${await deps.video.record(p)}`);

  const media = deps.media;
  if (media) {
    app.get(
      '/media/*',
      onlyUpgrades,
      unavailableWhile(() => media.draining, 'this instance is shutting down'),
      verify,
      async (c, next) => {
        const binding = media.bindingOf(new URL(c.req.url).pathname);
        if (!binding) throw new AppError(403, 'BAD_TOKEN', MediaStreams.BAD_TOKEN);
        c.set('stream', binding);
        c.set('callSid', binding.callSid);
        await next();
      },
      socketRoute<TwilioEnv>((c) => {
        const stream = c.get('stream');
        return (ws) => media.open(ws, stream);
      }),
    );
  }

  return app;
}
