// GET /v1/ws as a route: refusals are the app's JSON errors, before any handshake — 403
// for a browser origin not in CORS_ORIGINS, 401 for no, a bad or a revoked token (issue
// #8), 404 for a plain GET, 503 while draining, 429 for a staff member at
// WS_MAX_SOCKETS_PER_STAFF (issue #16).
// Then the socket is the gateway's (client-gateway.ts).
import { Hono } from 'hono';
import { AppError } from '../domain/errors.js';
import { authenticate, type AuthEnv, type Authenticator } from '../http/auth.js';
import { socketOrigin } from '../http/cors.js';
import { onlyUpgrades, socketRoute, unavailableWhile } from '../http/upgrades.js';
import type { ClientGateway } from './client-gateway.js';

export function clientSocketRoute(clients: ClientGateway, auth: Authenticator, allowedOrigins: readonly string[]): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const notDraining = unavailableWhile(() => clients.draining, 'this instance is shutting down; reconnect');
  app.get(
    '/v1/ws',
    // The token is checked before the request is found to be no upgrade: a browser, which
    // is never told why an upgrade failed, asks with a plain GET (@minutegate/client does)
    // and gets 401 for a refused token, 403 for a refused origin, 404 otherwise.
    notDraining,
    socketOrigin(allowedOrigins),
    authenticate(auth, {
      queryToken: true,
      missing: 'send Authorization: Bearer <staff token> or ?token=<staff token>',
      revoked: 'this token was revoked or its staff member removed',
      unchecked: 'the token could not be checked; retry',
    }),
    onlyUpgrades,
    // Again: the revocation check awaited Redis, and the drain may have begun meanwhile.
    notDraining,
    // Issue #16: a bounded number of sockets per staff member on this instance.
    async (c, next) => {
      if (!clients.hasRoomFor(c.get('principal'))) {
        throw new AppError(429, 'TOO_MANY_SOCKETS', `this staff member already has ${clients.maxSocketsPerStaff} sockets open here (WS_MAX_SOCKETS_PER_STAFF); close one first`);
      }
      await next();
    },
    // The socket keeps its principal, nothing else of the request.
    socketRoute<AuthEnv>((c) => {
      const principal = c.get('principal');
      return (ws) => clients.open(ws, principal);
    }),
  );
  return app;
}
