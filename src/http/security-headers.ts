// Headers every answer carries. Set before the handler runs: Hono keeps them and puts them
// on whatever answer the request gets (c.json, c.body, notFound, onError all build theirs
// through the context). Setting them after the answer exists would make Hono rebuild the
// response (on @hono/node-server: a full web Response with a body stream) — about a fifth
// of a webhook's CPU in the profile of bench:webhooks.
import type { MiddlewareHandler } from 'hono';

/** A year: browsers remember to use https only for this long after each answer. No
 *  includeSubDomains: the gateway's host does not speak for names below it. */
export const HSTS = 'max-age=31536000';

/** The headers for an answer to `path`, as [name, value] pairs. */
export function securityHeaderPairs(https: boolean, path: string): [string, string][] {
  const out: [string, string][] = [
    // No browser may guess a JSON or XML answer into something it would run.
    ['X-Content-Type-Options', 'nosniff'],
    // Nothing of our URLs leaves with a link or a fetch elsewhere: /app's fragment and
    // /v1/ws?token= never should, and nothing we serve needs another site to know the page.
    ['Referrer-Policy', 'no-referrer'],
  ];
  // Only when the public URL is https: over plain http (development) HSTS would pin
  // browsers to an https that is not there. Browsers ignore it on http answers anyway.
  if (https) out.push(['Strict-Transport-Security', HSTS]);
  // /v1 answers carry balances, tokens and call records: no cache along the way keeps them.
  if (path === '/v1' || path.startsWith('/v1/')) out.push(['Cache-Control', 'no-store']);
  return out;
}

export function securityHeaders(opts: { https: boolean }): MiddlewareHandler {
  return async (c, next) => {
    for (const [name, value] of securityHeaderPairs(opts.https, c.req.path)) c.header(name, value);
    await next();
  };
}

/** The Content-Security-Policy of the pages we serve (/app, /docs): everything from this
 *  origin only, no plugins, no <base> games, and no framing by anyone (clickjacking: the
 *  app holds a staff token, the docs page the admin key a reader pastes in). A page that
 *  needs more (the softphone talks to Twilio) adds its own sources to this. */
export const PAGE_CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
