// Headers every answer carries. Set after the handler (and after onError or notFound made
// the answer), so no response path can miss them.
import type { MiddlewareHandler } from 'hono';

export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    // No browser may guess a JSON or XML answer into something it would run.
    c.header('X-Content-Type-Options', 'nosniff');
    // /v1 answers carry balances, tokens and call records: no cache along the way keeps them.
    if (c.req.path === '/v1' || c.req.path.startsWith('/v1/')) c.header('Cache-Control', 'no-store');
  };
}
