// CORS for the REST API (/v1/*): only the origins listed in CORS_ORIGINS get
// Access-Control-Allow-Origin; with none configured the middleware is not installed
// and no CORS header is ever sent. Bearer tokens travel in Authorization, never in
// cookies, so credentials mode stays off.
import { cors } from 'hono/cors';

export const CORS_ALLOW_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
export const CORS_ALLOW_HEADERS = ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id'];
// Response headers a browser client may read besides the simple ones; none carries a secret.
export const CORS_EXPOSE_HEADERS = ['Idempotent-Replayed', 'Retry-After', 'X-Request-Id'];

export function apiCors(origins: readonly string[]) {
  return cors({
    origin: [...origins],
    allowMethods: CORS_ALLOW_METHODS,
    allowHeaders: CORS_ALLOW_HEADERS,
    exposeHeaders: CORS_EXPOSE_HEADERS,
    maxAge: 600,
  });
}

/** Socket upgrades: a browser always sends Origin; a non-browser client usually none. */
export function originAllowed(origin: string | undefined, origins: readonly string[]): boolean {
  if (origins.length === 0 || origin === undefined) return true;
  return origins.includes(origin);
}
