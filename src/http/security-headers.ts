// Headers every answer carries. Set before the handler runs: Hono keeps them and puts them
// on whatever answer the request gets (c.json, c.body, notFound, onError all build theirs
// through the context). Setting them after the answer exists would make Hono rebuild the
// response (on @hono/node-server: a full web Response with a body stream) — about a fifth
// of a webhook's CPU in the profile of bench:webhooks.
import type { MiddlewareHandler } from 'hono';

export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    // No browser may guess a JSON or XML answer into something it would run.
    c.header('X-Content-Type-Options', 'nosniff');
    // /v1 answers carry balances, tokens and call records: no cache along the way keeps them.
    if (c.req.path === '/v1' || c.req.path.startsWith('/v1/')) c.header('Cache-Control', 'no-store');
    await next();
  };
}
