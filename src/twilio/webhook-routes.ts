// Twilio-facing HTTP routes, and the Media Streams socket. Every request's
// X-Twilio-Signature is verified over PUBLIC_BASE_URL + path + query before anything else
// happens; there is no switch that turns this off. The webhooks' work is in webhooks.ts,
// shared with the fast path (http/fast-webhooks.ts) that takes Twilio's usual form POSTs
// before they reach these routes; these take every other shape (a chunked body, a GET, a
// JSON body signed with bodySHA256), and all of them when the fast path is not mounted.
import { Hono, type MiddlewareHandler } from 'hono';
import { AppError } from '../domain/errors.js';
import type { Logger } from '../log.js';
import { onlyUpgrades, socketRoute, unavailableWhile } from '../http/upgrades.js';
import type { StreamBinding } from './media-token.js';
import { MediaStreams } from './media-streams.js';
import { validateTwilioBodySignature, validateTwilioSignature, type TwilioParams } from './signature.js';
import { flatParams, FORM_TYPE, JSON_TYPE, NO_QUERY, NOT_CONFIGURED, queryOf, type SignalRoute, type TwilioSignatures, type TwilioAnswer, type TwilioWebhooks, XML_TYPE } from './webhooks.js';

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

/** Hono's answer for a webhook's. */
const respond = (c: { body(data: string, status: never, headers: Record<string, string>): Response }, a: TwilioAnswer) =>
  c.body(a.body, a.status as never, { 'content-type': a.json ? JSON_TYPE : XML_TYPE });

/**
 * Verifies X-Twilio-Signature and exposes the signed parameters, flat. Form POSTs are
 * signed over URL + sorted params; JSON POSTs over a URL carrying bodySHA256 (the body's
 * hash is checked too); GETs over the URL alone (their params are in the query); a Media
 * Streams upgrade over the wss:// form of the URL (mediaUrlSigned). A POST's URL query is
 * exposed on its own (`query`): a GET's query is Twilio's parameters, mixed with any of
 * ours, so it has none.
 */
export function verifyTwilio(signatures: TwilioSignatures): MiddlewareHandler<TwilioEnv> {
  return async (c, next) => {
    const authToken = signatures.authToken;
    if (!authToken) throw NOT_CONFIGURED();
    // The URL Twilio requested: the public base plus the path and query we received.
    const raw = c.req.url;
    const url = signatures.signedUrl(c.req.header('host'), raw.slice(raw.indexOf('/', raw.indexOf('//') + 2)));
    const signature = c.req.header('x-twilio-signature');
    let signed: TwilioParams = {};
    if (c.req.method === 'GET' && c.req.header('upgrade')?.toLowerCase() === 'websocket') {
      if (!mediaUrlSigned(authToken, signature, url)) throw signatures.refused(signature);
    } else if (c.req.method === 'GET') {
      if (!validateTwilioSignature(authToken, signature, url, signed)) throw signatures.refused(signature);
      signed = Object.fromEntries(new URL(raw).searchParams);
    } else {
      const type = c.req.header('content-type') ?? '';
      const body = await c.req.text();
      if (FORM_TYPE.test(type)) {
        signed = signatures.verifyForm(url, signature, body);
      } else if (/^application\/json\b/i.test(type) && url.includes('bodySHA256=')) {
        if (!validateTwilioBodySignature(authToken, signature, url, body)) throw signatures.refused(signature);
      } else {
        throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Twilio webhooks are form-encoded (application/x-www-form-urlencoded)');
      }
    }
    const flat = flatParams(signed);
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
  hooks: TwilioWebhooks;
  log: Logger;
  /** MEDIA_STREAMS: the stream socket (GET /twilio/media/<token>), and <Start><Stream> in
   *  the TwiML so it marks allowed calls live. Null: neither (the path is a 404). */
  media: MediaStreams | null;
}) {
  const app = new Hono<TwilioEnv>();
  const { hooks } = deps;
  const verify = verifyTwilio(hooks.signatures);
  const requestLog = (c: { get(k: 'log'): Logger | undefined }) => c.get('log') ?? deps.log;

  app.post('/voice', verify, async (c) => respond(c, await hooks.voice(c.get('params'), c.req.header('host'), requestLog(c))));
  const signalRoute = (route: SignalRoute) =>
    app.post(`/${route}`, verify, async (c) => respond(c, await hooks.signal(route, c.get('params'), c.get('query'), requestLog(c))));
  signalRoute('status');
  signalRoute('video/status');

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
