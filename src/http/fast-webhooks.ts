// The Twilio webhooks' hot path, served from node's request event before the app sees the
// request. Twilio's voice and status callbacks are the gateway's volume, and going through
// the web framework cost about a fifth of each one's CPU (the adapter's Request and
// Response objects, the middleware chain, the context's headers: BENCHMARKS.md, session
// 19). This takes only the shape Twilio sends — POST /twilio/voice, /twilio/status or
// /twilio/video/status, a form body of a declared length within the limit — and does what
// the app would: the same signature check and work (twilio/webhooks.ts), the same request
// id, security headers, metrics and access line (access-log.ts, security-headers.ts), the
// same JSON errors. Any other request (chunked, oversized, another type or method, another
// path) goes to the app untouched, which answers it as it always did.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { GatewayMetrics } from '../metrics.js';
import { flatParams, FORM_TYPE, JSON_TYPE, queryOf, type SignalRoute, type TwilioAnswer, type TwilioWebhooks, XML_TYPE } from '../twilio/webhooks.js';
import { AccessLog, RequestLogger, requestIdOf } from './access-log.js';
import { errorAnswer } from './error-answer.js';
import { errorBody } from './json.js';
import { securityHeaderPairs } from './security-headers.js';

/** The routes taken here, by path. The path is also the route label of their metrics:
 *  the app's pattern for the same route, so the series are the same whichever door. */
const ROUTES: Record<string, 'voice' | SignalRoute> = Object.assign(Object.create(null), {
  '/twilio/voice': 'voice',
  '/twilio/status': 'status',
  '/twilio/video/status': 'video/status',
});

/** A node request listener's first look: true when it took the request (and will answer
 *  it), false to pass it on to the app. */
export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

export function fastWebhooks(d: {
  hooks: TwilioWebhooks;
  log: Logger;
  metrics: GatewayMetrics;
  /** PUBLIC_BASE_URL is https: answers carry HSTS (security-headers.ts). */
  https: boolean;
  maxBodyBytes: number;
}): FastPath {
  const access = new AccessLog(d);
  // Every path taken here is under /twilio/: its security headers are the same for all.
  const secure = Object.fromEntries(securityHeaderPairs(d.https, '/twilio/'));
  const serve = async (req: IncomingMessage, res: ServerResponse, route: (typeof ROUTES)[string], path: string, url: string) => {
    const started = performance.now();
    const requestId = requestIdOf(header(req, 'x-request-id'));
    const log = new RequestLogger(d.log, requestId);
    const host = header(req, 'host');
    let callSid: string | undefined;
    let answer: TwilioAnswer;
    try {
      const body = await readBody(req);
      const sig = d.hooks.signatures;
      const p = flatParams(sig.verifyForm(sig.signedUrl(host, url), header(req, 'x-twilio-signature'), body));
      callSid = p.CallSid;
      answer = route === 'voice' ? await d.hooks.voice(p, host, log) : await d.hooks.signal(route, p, queryOf(url), log);
    } catch (err) {
      if (err instanceof BodyAborted) return; // the client went away mid-body: nobody to answer
      const a = errorAnswer(err, { metrics: d.metrics, log, path });
      answer = { status: a.status, body: JSON.stringify(a.body), json: true };
    }
    res.writeHead(answer.status, {
      ...secure,
      'X-Request-Id': requestId,
      'Content-Type': answer.json ? JSON_TYPE : XML_TYPE,
      'Content-Length': Buffer.byteLength(answer.body),
    });
    res.end(answer.body);
    access.record({
      route: path,
      method: 'POST',
      status: answer.status,
      started,
      path,
      log,
      ip: req.socket.remoteAddress,
      forwardedFor: header(req, 'x-forwarded-for'),
      userAgent: header(req, 'user-agent'),
      callSid,
    });
  };

  return (req, res) => {
    if (req.method !== 'POST') return false;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const route = ROUTES[path];
    if (!route) return false;
    // Without a declared length (chunked) or over the limit, the app's body limit decides.
    const declared = req.headers['content-length'];
    if (declared === undefined || !(Number(declared) <= d.maxBodyBytes)) return false;
    // Any other type gets the app's answer (JSON signed with bodySHA256, or a 415).
    const type = req.headers['content-type'];
    if (type === undefined || !FORM_TYPE.test(type)) return false;
    serve(req, res, route, path, url).catch((err: unknown) => {
      // Nothing above should throw past its own catch; if it does, the request is answered
      // and logged, never left to an unhandled rejection (which stops the process).
      d.log.error('unhandled error', { err, path });
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': JSON_TYPE }).end(JSON.stringify(errorBody('INTERNAL', 'internal error')));
      else res.destroy();
    });
    return true;
  };
}

/** A header's value as one string (node joins repeats of most headers with ", "). */
function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

class BodyAborted extends Error {}

/** The whole body as text; rejects with BodyAborted when the request ends before it does. */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let first: Buffer | null = null;
    let rest: Buffer[] | null = null;
    req.on('data', (chunk: Buffer) => {
      if (first === null) first = chunk;
      else (rest ??= [first]).push(chunk);
    });
    req.on('end', () => resolve(rest ? Buffer.concat(rest).toString('utf8') : (first?.toString('utf8') ?? '')));
    req.on('error', () => reject(new BodyAborted()));
    req.on('close', () => {
      if (!req.complete) reject(new BodyAborted());
    });
  });
}
