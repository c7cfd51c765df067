// CORS for the REST API (/v1/*): only the origins listed in CORS_ORIGINS get
// Access-Control-Allow-Origin; with none configured the middleware is not installed
// and no CORS header is ever sent. Bearer tokens travel in Authorization, never in
// cookies, so credentials mode stays off.
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { AppError } from '../domain/errors.js';

export const CORS_ALLOW_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
export const CORS_ALLOW_HEADERS = ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id'];
// Response headers a browser client may read besides the simple ones; none carries a secret.
export const CORS_EXPOSE_HEADERS = ['History-Incomplete', 'Idempotent-Replayed', 'Retry-After', 'X-Request-Id'];

export function apiCors(origins: readonly string[]): MiddlewareHandler {
  const listed = cors({
    origin: [...origins],
    allowMethods: CORS_ALLOW_METHODS,
    allowHeaders: CORS_ALLOW_HEADERS,
    exposeHeaders: CORS_EXPOSE_HEADERS,
    maxAge: 600,
  });
  return async (c, next) => {
    const origin = c.req.header('origin');
    if (origin !== undefined && origins.includes(origin)) return listed(c, next);
    // Any other origin learns nothing: no Access-Control-* header at all, preflight
    // included (it falls through to the router like any unknown OPTIONS request).
    await next();
    if (origin !== undefined) c.header('Vary', 'Origin', { append: true });
  };
}

/** Socket upgrades: a browser always sends Origin; a non-browser client usually none.
 *  One from an origin not in CORS_ORIGINS is refused 403 before the handshake (none = any). */
export function socketOrigin(origins: readonly string[]): MiddlewareHandler {
  return async (c, next) => {
    const origin = c.req.header('origin');
    if (origins.length > 0 && origin !== undefined && !origins.includes(origin)) {
      throw new AppError(403, 'FORBIDDEN', `origin ${origin} is not in CORS_ORIGINS`);
    }
    await next();
  };
}
