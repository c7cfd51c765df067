// Optional protection of /metrics: with METRICS_TOKEN set, a scraper must send
// Authorization: Bearer <METRICS_TOKEN>; unset, /metrics stays open (internal network).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { bearerToken } from './auth.js';
import { errorBody } from './json.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

export function metricsAccess(token: string | null): MiddlewareHandler {
  if (token === null) return (_c, next) => next();
  const expected = digest(token);
  return async (c, next) => {
    const sent = bearerToken(c.req.header('authorization'));
    // Digests compared in constant time, whatever the lengths.
    if (sent === null || !timingSafeEqual(digest(sent), expected)) {
      c.header('www-authenticate', 'Bearer realm="metrics"');
      return c.json(errorBody('UNAUTHORIZED', 'send Authorization: Bearer <METRICS_TOKEN>'), 401);
    }
    await next();
  };
}
